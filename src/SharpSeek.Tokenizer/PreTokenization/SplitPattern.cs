using System.Runtime.CompilerServices;

namespace SharpSeek.Tokenizer.PreTokenization;

/// <summary>
/// One regex of a pre-tokenizer "Split" step, hand-compiled. <see cref="FindNext"/> has the semantics of a JS
/// global regex scan (<c>String.prototype.matchAll</c>): the leftmost match at or after a position, alternatives
/// tried in order, greedy quantifiers with backtracking. No pattern ever matches the empty string.
/// </summary>
/// <remarks>
/// Why hand-written instead of <see cref="System.Text.RegularExpressions.Regex"/>: .NET regexes match UTF-16 units,
/// so <c>\p{L}</c> never matches a supplementary-plane letter (CJK Ext-B, math letters) and <c>\p{S}</c> never matches
/// an emoji, while the reference (JS with the <c>u</c> flag, or Rust's onig) matches whole code points. Its
/// <c>\s</c> also differs (U+0085, U+FEFF). Each pattern below is a few branches over a code point class table,
/// which is both exact and several times faster than a backtracking engine.
/// </remarks>
internal abstract class SplitPattern
{
    /// <summary>The pattern in regex syntax, as it appears in tokenizer.json (for messages and for writing files).</summary>
    public abstract string RegexSource { get; }

    /// <summary>Finds the leftmost match in <paramref name="segment"/> starting at or after <paramref name="from"/>.</summary>
    public abstract bool FindNext(ReadOnlySpan<char> segment, int from, out int start, out int end);

    public override string ToString() => RegexSource;

    /// <summary>Index after a run of <c>[\r\n]*</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    protected static int SkipLineBreaks(ReadOnlySpan<char> s, int i)
    {
        while (i < s.Length && (s[i] == '\r' || s[i] == '\n'))
            i++;
        return i;
    }

    /// <summary>Index after a run of code points having none of <paramref name="none"/>.</summary>
    protected static int SkipRunWithout(ReadOnlySpan<char> s, int i, CodePointFlags none)
    {
        while (i < s.Length)
        {
            if ((CodePointClass.FlagsAt(s, i, out int width) & none) != 0)
                break;
            i += width;
        }
        return i;
    }

    /// <summary>
    /// The shared whitespace tail of the GPT-4-style patterns, matched at a whitespace code point <paramref name="i"/>:
    /// <c>\s*[\r\n]+|\s+(?!\S)|\s+</c> (or without the first alternative when <paramref name="lineBreakAlternative"/>
    /// is false, as in GPT-2). Returns the match end.
    /// </summary>
    protected static int MatchWhitespace(ReadOnlySpan<char> s, int i, bool lineBreakAlternative)
    {
        // Every JS \s code point is in the BMP, so the run is measured in chars.
        int end = CodePointClass.SkipRun(s, i, CodePointFlags.Whitespace);
        if (lineBreakAlternative)
        {
            // \s*[\r\n]+ : \s* backtracks to the last line break of the run, [\r\n]+ then takes just that one
            // (anything after it in the run is not a line break).
            int lastBreak = s[i..end].LastIndexOfAny('\r', '\n');
            if (lastBreak >= 0)
                return i + lastBreak + 1;
        }
        // \s+(?!\S): the whole run at the end of the segment, else the run minus its last character (which then
        // attaches to the following word); a single space before a non-space falls through to \s+.
        if (end == s.Length)
            return end;
        return end - 1 > i ? end - 1 : end;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    protected static bool IsAsciiLetter(char c) => (uint)((c | 0x20) - 'a') <= 'z' - 'a';
}

/// <summary>Scans code point by code point, trying <see cref="MatchAt"/> at each; for patterns that can start anywhere.</summary>
internal abstract class PositionalSplitPattern : SplitPattern
{
    /// <summary>The end of the match starting exactly at <paramref name="i"/>, or -1 when no alternative matches there.</summary>
    public abstract int MatchAt(ReadOnlySpan<char> s, int i);

    public sealed override bool FindNext(ReadOnlySpan<char> segment, int from, out int start, out int end)
    {
        int p = from;
        while (p < segment.Length)
        {
            int e = MatchAt(segment, p);
            if (e > p)
            {
                start = p;
                end = e;
                return true;
            }
            CodePointClass.Read(segment, p, out int width);
            p += width;
        }
        start = end = segment.Length;
        return false;
    }
}
