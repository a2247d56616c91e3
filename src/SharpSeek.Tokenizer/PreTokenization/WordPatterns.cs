namespace SharpSeek.Tokenizer.PreTokenization;

/// <summary>
/// DeepSeek-V3's word pattern (third step of its pre-tokenizer):
/// <c>[!"#$%&amp;'()*+,\-./:;&lt;=&gt;?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+</c>.
/// Unlike the GPT-4 family it keeps one ASCII punctuation mark glued to a following ASCII word (".com", "'s"),
/// lets combining marks join words, and leaves characters no alternative covers (controls, format characters such
/// as ZWJ, private use, lone surrogates) as unmatched gaps.
/// </summary>
internal sealed class DeepSeekV3WordPattern : PositionalSplitPattern
{
    public const string Source =
        "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+";

    public static readonly DeepSeekV3WordPattern Instance = new();

    public override string RegexSource => Source;

    private const CodePointFlags LetterOrMark = CodePointFlags.Letter | CodePointFlags.Mark;
    private const CodePointFlags PunctOrSymbol = CodePointFlags.Punctuation | CodePointFlags.Symbol;

    public override int MatchAt(ReadOnlySpan<char> s, int i)
    {
        int cp = CodePointClass.Read(s, i, out int width);
        CodePointFlags flags = CodePointClass.Of(cp);

        // [ASCII punctuation][A-Za-z]+
        if (cp < 0x80 && IsAsciiPunctuation(cp) && i + 1 < s.Length && IsAsciiLetter(s[i + 1]))
        {
            int j = i + 2;
            while (j < s.Length && IsAsciiLetter(s[j]))
                j++;
            return j;
        }

        // [^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+ — first with the optional prefix, then without it.
        bool prefixCandidate = cp != '\r' && cp != '\n' && (flags & (CodePointFlags.Letter | PunctOrSymbol)) == 0;
        if (prefixCandidate && (CodePointClass.FlagsAt(s, i + width, out _) & LetterOrMark) != 0)
            return CodePointClass.SkipRun(s, i + width, LetterOrMark);
        if ((flags & LetterOrMark) != 0)
            return CodePointClass.SkipRun(s, i, LetterOrMark);

        //  ?[\p{P}\p{S}]+[\r\n]*
        if (cp == ' ')
        {
            if ((CodePointClass.FlagsAt(s, i + 1, out _) & PunctOrSymbol) != 0)
                return SkipLineBreaks(s, CodePointClass.SkipRun(s, i + 1, PunctOrSymbol));
        }
        else if ((flags & PunctOrSymbol) != 0)
        {
            return SkipLineBreaks(s, CodePointClass.SkipRun(s, i, PunctOrSymbol));
        }

        if ((flags & CodePointFlags.Whitespace) != 0)
            return MatchWhitespace(s, i, lineBreakAlternative: true);
        return -1;
    }

    private static bool IsAsciiPunctuation(int c) =>
        c is (>= 0x21 and <= 0x2F) or (>= 0x3A and <= 0x40) or (>= 0x5B and <= 0x60) or (>= 0x7B and <= 0x7E);
}

/// <summary>
/// The Llama-3 / Qwen2 pattern:
/// <c>(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+</c>
/// (Qwen2 takes digits one at a time: <c>\p{N}</c>). Every code point is covered by some alternative, so it leaves no gaps.
/// </summary>
internal sealed class Llama3WordPattern : PositionalSplitPattern
{
    public const string Llama3Source =
        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    public const string Qwen2Source =
        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    public static readonly Llama3WordPattern Llama3 = new(3);
    public static readonly Llama3WordPattern Qwen2 = new(1);

    private readonly int _maxDigits;

    private Llama3WordPattern(int maxDigits) => _maxDigits = maxDigits;

    public override string RegexSource => _maxDigits == 3 ? Llama3Source : Qwen2Source;

    private const CodePointFlags NotOther = CodePointFlags.Whitespace | CodePointFlags.Letter | CodePointFlags.Number;

    public override int MatchAt(ReadOnlySpan<char> s, int i)
    {
        int cp = CodePointClass.Read(s, i, out int width);
        CodePointFlags flags = CodePointClass.Of(cp);

        if (cp == '\'')
        {
            int contraction = MatchContraction(s, i, caseInsensitive: true);
            if (contraction > 0)
                return contraction;
        }

        // [^\r\n\p{L}\p{N}]?\p{L}+
        bool prefixCandidate = cp != '\r' && cp != '\n' && (flags & (CodePointFlags.Letter | CodePointFlags.Number)) == 0;
        if (prefixCandidate && (CodePointClass.FlagsAt(s, i + width, out _) & CodePointFlags.Letter) != 0)
            return CodePointClass.SkipRun(s, i + width, CodePointFlags.Letter);
        if ((flags & CodePointFlags.Letter) != 0)
            return CodePointClass.SkipRun(s, i, CodePointFlags.Letter);

        // \p{N}{1,k}
        if ((flags & CodePointFlags.Number) != 0)
        {
            int j = i + width;
            for (int taken = 1; taken < _maxDigits && (CodePointClass.FlagsAt(s, j, out int w) & CodePointFlags.Number) != 0; taken++)
                j += w;
            return j;
        }

        //  ?[^\s\p{L}\p{N}]+[\r\n]*
        if (cp == ' ')
        {
            int next = i + 1;
            if (next < s.Length && (CodePointClass.FlagsAt(s, next, out _) & NotOther) == 0)
                return SkipLineBreaks(s, SkipRunWithout(s, next, NotOther));
        }
        else if ((flags & NotOther) == 0)
        {
            return SkipLineBreaks(s, SkipRunWithout(s, i, NotOther));
        }

        if ((flags & CodePointFlags.Whitespace) != 0)
            return MatchWhitespace(s, i, lineBreakAlternative: true);
        return -1;
    }

    /// <summary><c>'s|'t|'re|'ve|'m|'ll|'d</c> at an apostrophe; returns the end or -1.</summary>
    internal static int MatchContraction(ReadOnlySpan<char> s, int i, bool caseInsensitive)
    {
        if (i + 1 >= s.Length)
            return -1;
        char a = Fold(s[i + 1], caseInsensitive);
        if (a is 's' or 't' or 'm' or 'd')
            return i + 2;
        if (i + 2 >= s.Length)
            return -1;
        char b = Fold(s[i + 2], caseInsensitive);
        return (a, b) is ('r', 'e') or ('v', 'e') or ('l', 'l') ? i + 3 : -1;
    }

    // Only ASCII letters fold: transformers.js rewrites (?i:...) into explicit [sS]-style classes.
    private static char Fold(char c, bool caseInsensitive) =>
        caseInsensitive && c is >= 'A' and <= 'Z' ? (char)(c + 32) : c;
}

/// <summary>
/// The original GPT-2 pattern, used by a ByteLevel pre-tokenizer with <c>use_regex: true</c>:
/// <c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c>.
/// </summary>
internal sealed class Gpt2WordPattern : PositionalSplitPattern
{
    public const string Source = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

    public static readonly Gpt2WordPattern Instance = new();

    public override string RegexSource => Source;

    private const CodePointFlags NotOther = CodePointFlags.Whitespace | CodePointFlags.Letter | CodePointFlags.Number;

    public override int MatchAt(ReadOnlySpan<char> s, int i)
    {
        int cp = CodePointClass.Read(s, i, out _);
        CodePointFlags flags = CodePointClass.Of(cp);
        if (cp == '\'')
        {
            int contraction = Llama3WordPattern.MatchContraction(s, i, caseInsensitive: false);
            if (contraction > 0)
                return contraction;
        }

        int body = i;
        CodePointFlags bodyFlags = flags;
        if (cp == ' ' && i + 1 < s.Length)
        {
            // The optional leading space only helps when what follows it is not whitespace.
            CodePointFlags next = CodePointClass.FlagsAt(s, i + 1, out _);
            if ((next & CodePointFlags.Whitespace) == 0)
            {
                body = i + 1;
                bodyFlags = next;
            }
        }
        if ((bodyFlags & CodePointFlags.Letter) != 0)
            return CodePointClass.SkipRun(s, body, CodePointFlags.Letter);
        if ((bodyFlags & CodePointFlags.Number) != 0)
            return CodePointClass.SkipRun(s, body, CodePointFlags.Number);
        if ((bodyFlags & NotOther) == 0)
            return SkipRunWithout(s, body, NotOther);

        if ((flags & CodePointFlags.Whitespace) != 0)
            return MatchWhitespace(s, i, lineBreakAlternative: false);
        return -1;
    }
}
