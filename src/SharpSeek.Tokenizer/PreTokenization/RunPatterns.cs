namespace SharpSeek.Tokenizer.PreTokenization;

/// <summary><c>\p{N}{1,k}</c> (digit groups of at most k code points, left to right) or <c>\p{N}+</c>.</summary>
internal sealed class NumberRunPattern : SplitPattern
{
    public static readonly NumberRunPattern UpToThree = new(3);
    public static readonly NumberRunPattern Single = new(1);
    public static readonly NumberRunPattern Unbounded = new(int.MaxValue);

    private readonly int _maxCodePoints;

    private NumberRunPattern(int maxCodePoints) => _maxCodePoints = maxCodePoints;

    public override string RegexSource => _maxCodePoints switch
    {
        int.MaxValue => "\\p{N}+",
        1 => "\\p{N}",
        _ => $"\\p{{N}}{{1,{_maxCodePoints}}}",
    };

    public override bool FindNext(ReadOnlySpan<char> segment, int from, out int start, out int end)
    {
        int p = from;
        while (p < segment.Length)
        {
            if ((CodePointClass.FlagsAt(segment, p, out int width) & CodePointFlags.Number) != 0)
            {
                start = p;
                int j = p + width;
                for (int taken = 1; taken < _maxCodePoints && (CodePointClass.FlagsAt(segment, j, out int w) & CodePointFlags.Number) != 0; taken++)
                    j += w;
                end = j;
                return true;
            }
            p += width;
        }
        start = end = segment.Length;
        return false;
    }
}

/// <summary>
/// A run of code points from a fixed set of ranges, <c>[ranges]+</c>, optionally preceded by one whitespace code
/// point (<c>\s?[ranges]+</c>).
/// </summary>
internal sealed class CodePointRangeRunPattern : SplitPattern
{
    private readonly (int First, int Last)[] _ranges;
    private readonly ulong[] _bmpBits = new ulong[0x10000 / 64];
    private readonly bool _optionalLeadingWhitespace;
    private readonly string _source;

    public CodePointRangeRunPattern(string source, IEnumerable<(int First, int Last)> ranges, bool optionalLeadingWhitespace)
    {
        _source = source;
        _ranges = ranges.OrderBy(r => r.First).ToArray();
        _optionalLeadingWhitespace = optionalLeadingWhitespace;
        foreach (var (first, last) in _ranges)
        {
            for (int cp = first; cp <= Math.Min(last, 0xFFFF); cp++)
                _bmpBits[cp >> 6] |= 1UL << (cp & 63);
        }
    }

    public override string RegexSource => _source;

    private bool Contains(int cp)
    {
        if (cp < 0x10000)
            return (_bmpBits[cp >> 6] & (1UL << (cp & 63))) != 0;
        foreach (var (first, last) in _ranges)
        {
            if (cp >= first && cp <= last)
                return true;
        }
        return false;
    }

    private bool ContainsAt(ReadOnlySpan<char> s, int i, out int width)
    {
        if (i >= s.Length)
        {
            width = 0;
            return false;
        }
        return Contains(CodePointClass.Read(s, i, out width));
    }

    private int SkipRun(ReadOnlySpan<char> s, int i)
    {
        while (ContainsAt(s, i, out int width))
            i += width;
        return i;
    }

    public override bool FindNext(ReadOnlySpan<char> segment, int from, out int start, out int end)
    {
        int p = from;
        while (p < segment.Length)
        {
            int cp = CodePointClass.Read(segment, p, out int width);
            // Alternatives in regex order: the optional whitespace taken first, then skipped.
            if (_optionalLeadingWhitespace && (CodePointClass.Of(cp) & CodePointFlags.Whitespace) != 0
                && ContainsAt(segment, p + width, out _))
            {
                start = p;
                end = SkipRun(segment, p + width);
                return true;
            }
            if (Contains(cp))
            {
                start = p;
                end = SkipRun(segment, p);
                return true;
            }
            p += width;
        }
        start = end = segment.Length;
        return false;
    }
}

/// <summary><c>[\r\n]</c>: every line-break character on its own.</summary>
internal sealed class LineBreakPattern : SplitPattern
{
    public static readonly LineBreakPattern Instance = new();

    public override string RegexSource => "[\r\n]";

    public override bool FindNext(ReadOnlySpan<char> segment, int from, out int start, out int end)
    {
        int k = segment[from..].IndexOfAny('\r', '\n');
        if (k < 0)
        {
            start = end = segment.Length;
            return false;
        }
        start = from + k;
        end = start + 1;
        return true;
    }
}

/// <summary><c>\s+$</c>: the whitespace run that ends the segment.</summary>
internal sealed class TrailingWhitespacePattern : SplitPattern
{
    public static readonly TrailingWhitespacePattern Instance = new();

    public override string RegexSource => "\\s+$";

    public override bool FindNext(ReadOnlySpan<char> segment, int from, out int start, out int end)
    {
        // Leftmost match = the start of the maximal trailing run (all JS whitespace is in the BMP).
        int t = segment.Length;
        while (t > from && (CodePointClass.Of(segment[t - 1]) & CodePointFlags.Whitespace) != 0)
            t--;
        if (t == segment.Length)
        {
            start = end = segment.Length;
            return false;
        }
        start = t;
        end = segment.Length;
        return true;
    }
}

/// <summary>
/// The "Digits" pre-tokenizer: ASCII digits split from everything else, one per piece when
/// <c>individual_digits</c> is set, else as runs (transformers.js: <c>[^\d]+|\d+?</c>; JS <c>\d</c> is ASCII only).
/// </summary>
internal sealed class AsciiDigitPattern : SplitPattern
{
    public static readonly AsciiDigitPattern Individual = new(true);
    public static readonly AsciiDigitPattern Runs = new(false);

    private readonly bool _individual;

    private AsciiDigitPattern(bool individual) => _individual = individual;

    public override string RegexSource => _individual ? "\\d" : "\\d+";

    public override bool FindNext(ReadOnlySpan<char> segment, int from, out int start, out int end)
    {
        int k = segment[from..].IndexOfAnyInRange('0', '9');
        if (k < 0)
        {
            start = end = segment.Length;
            return false;
        }
        start = from + k;
        end = start + 1;
        if (!_individual)
            while (end < segment.Length && char.IsAsciiDigit(segment[end]))
                end++;
        return true;
    }
}
