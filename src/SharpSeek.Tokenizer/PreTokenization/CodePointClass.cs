using System.Globalization;
using System.Runtime.CompilerServices;

namespace SharpSeek.Tokenizer.PreTokenization;

/// <summary>The Unicode properties the pre-tokenizer patterns test, as bit flags.</summary>
[Flags]
internal enum CodePointFlags : byte
{
    None = 0,
    /// <summary>\p{L}: Lu, Ll, Lt, Lm, Lo.</summary>
    Letter = 1,
    /// <summary>\p{M}: Mn, Mc, Me.</summary>
    Mark = 2,
    /// <summary>\p{N}: Nd, Nl, No.</summary>
    Number = 4,
    /// <summary>\p{P}: Pc, Pd, Ps, Pe, Pi, Pf, Po.</summary>
    Punctuation = 8,
    /// <summary>\p{S}: Sm, Sc, Sk, So.</summary>
    Symbol = 16,
    /// <summary>
    /// ECMAScript <c>\s</c>: TAB, LF, VT, FF, CR, U+FEFF, U+2028, U+2029 and every Zs character.
    /// This differs from the Unicode White_Space property (it has U+FEFF, lacks U+0085) — we follow the
    /// JS definition because the reference implementation we must reproduce id-for-id is transformers.js.
    /// </summary>
    Whitespace = 32,
    /// <summary>\p{Lu}|\p{Ll}|\p{Lt}: cased letters (used by the deepseek-llm Latin class check in tests).</summary>
    CasedLetter = 64,
}

/// <summary>
/// Classifies code points for the hand-written pre-tokenizer patterns. The BMP is a 64 KiB lookup table
/// built once from <see cref="CharUnicodeInfo"/>; supplementary planes are classified on demand (rare in text).
/// </summary>
/// <remarks>
/// Lone surrogates are classified as what they are (category Cs, no flags), exactly as a JS regex with the
/// <c>u</c> flag sees them: one code point that is neither letter, mark, number, punctuation, symbol nor space.
/// Unicode data comes from the .NET runtime; code points assigned after its Unicode version read as unassigned.
/// </remarks>
internal static class CodePointClass
{
    private static readonly CodePointFlags[] s_bmp = BuildBmpTable();

    private static CodePointFlags[] BuildBmpTable()
    {
        var table = new CodePointFlags[0x10000];
        for (int cp = 0; cp < table.Length; cp++)
            table[cp] = Compute(cp);
        return table;
    }

    private static CodePointFlags Compute(int cp)
    {
        CodePointFlags flags = CategoryFlags(CharUnicodeInfo.GetUnicodeCategory(cp));
        if (IsJsWhitespaceControl(cp))
            flags |= CodePointFlags.Whitespace;
        return flags;
    }

    private static bool IsJsWhitespaceControl(int cp) =>
        cp is '\t' or '\n' or '\v' or '\f' or '\r' or 0xFEFF or 0x2028 or 0x2029;

    private static CodePointFlags CategoryFlags(UnicodeCategory category) => category switch
    {
        UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            => CodePointFlags.Letter | CodePointFlags.CasedLetter,
        UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => CodePointFlags.Letter,
        UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark
            => CodePointFlags.Mark,
        UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber
            => CodePointFlags.Number,
        UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation or UnicodeCategory.OpenPunctuation
            or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation => CodePointFlags.Punctuation,
        UnicodeCategory.MathSymbol or UnicodeCategory.CurrencySymbol or UnicodeCategory.ModifierSymbol
            or UnicodeCategory.OtherSymbol => CodePointFlags.Symbol,
        UnicodeCategory.SpaceSeparator => CodePointFlags.Whitespace,
        _ => CodePointFlags.None,
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static CodePointFlags Of(int codePoint) =>
        (uint)codePoint < 0x10000u ? s_bmp[codePoint] : CategoryFlags(CharUnicodeInfo.GetUnicodeCategory(codePoint));

    /// <summary>
    /// Reads the code point at <paramref name="index"/> the way a JS <c>u</c>-flag regex does: a valid surrogate pair
    /// is one code point (width 2); anything else, including a lone surrogate, is one UTF-16 unit (width 1).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Read(ReadOnlySpan<char> text, int index, out int width)
    {
        char c = text[index];
        if (char.IsHighSurrogate(c) && index + 1 < text.Length && char.IsLowSurrogate(text[index + 1]))
        {
            width = 2;
            return char.ConvertToUtf32(c, text[index + 1]);
        }
        width = 1;
        return c;
    }

    /// <summary>Flags of the code point at <paramref name="index"/>, or None (and width 0) past the end.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static CodePointFlags FlagsAt(ReadOnlySpan<char> text, int index, out int width)
    {
        if (index >= text.Length)
        {
            width = 0;
            return CodePointFlags.None;
        }
        char c = text[index];
        if (!char.IsSurrogate(c))
        {
            width = 1;
            return s_bmp[c];
        }
        return Of(Read(text, index, out width));
    }

    /// <summary>Index just past the run of code points starting at <paramref name="index"/> having any of <paramref name="any"/>.</summary>
    public static int SkipRun(ReadOnlySpan<char> text, int index, CodePointFlags any)
    {
        while (index < text.Length)
        {
            char c = text[index];
            if (!char.IsSurrogate(c))
            {
                if ((s_bmp[c] & any) == 0)
                    break;
                index++;
                continue;
            }
            if ((Of(Read(text, index, out int width)) & any) == 0)
                break;
            index += width;
        }
        return index;
    }
}
