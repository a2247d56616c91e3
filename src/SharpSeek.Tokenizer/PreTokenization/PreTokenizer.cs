namespace SharpSeek.Tokenizer.PreTokenization;

/// <summary>
/// A sequence of "Split (Isolated)" steps. Each step splits every piece produced by the previous step into its
/// matches and the gaps between them (both kept), exactly like tokenizers' <c>Sequence</c> of <c>Split</c>
/// pre-tokenizers: a later pattern never sees across an earlier split, and <c>$</c> or <c>(?!\S)</c> look only at
/// the end of the current piece.
/// </summary>
public sealed class PreTokenizer
{
    private readonly SplitPattern[] _patterns;

    internal PreTokenizer(string name, params SplitPattern[] patterns)
    {
        Name = name;
        _patterns = patterns;
    }

    /// <summary>A short name for the pattern set ("deepseek-v3", "llama3", ... or "custom").</summary>
    public string Name { get; }

    /// <summary>The regexes of the steps, in order, as tokenizer.json writes them.</summary>
    public IReadOnlyList<string> RegexSources => _patterns.Select(p => p.RegexSource).ToArray();

    /// <summary>Appends the (start, length) of each piece of <paramref name="text"/> to <paramref name="pieces"/>.</summary>
    public void Split(ReadOnlySpan<char> text, List<(int Start, int Length)> pieces)
    {
        ArgumentNullException.ThrowIfNull(pieces);
        if (text.IsEmpty)
            return;
        SplitLevel(text, 0, text.Length, 0, pieces);
    }

    private void SplitLevel(ReadOnlySpan<char> text, int start, int end, int level, List<(int Start, int Length)> pieces)
    {
        if (level == _patterns.Length)
        {
            pieces.Add((start, end - start));
            return;
        }
        ReadOnlySpan<char> segment = text[start..end];
        SplitPattern pattern = _patterns[level];
        int position = 0;
        while (position < segment.Length && pattern.FindNext(segment, position, out int matchStart, out int matchEnd))
        {
            if (matchStart > position)
                SplitLevel(text, start + position, start + matchStart, level + 1, pieces);
            SplitLevel(text, start + matchStart, start + matchEnd, level + 1, pieces);
            position = matchEnd;
        }
        if (position < segment.Length)
            SplitLevel(text, start + position, end, level + 1, pieces);
    }

    /// <summary>Convenience for tests and tools: the pieces as strings.</summary>
    public IReadOnlyList<string> SplitToStrings(string text)
    {
        var pieces = new List<(int Start, int Length)>();
        Split(text, pieces);
        return pieces.Select(p => text.Substring(p.Start, p.Length)).ToArray();
    }

    // ---- The known pattern sets ----------------------------------------------------------------------------------

    /// <summary>DeepSeek-V3 / R1: digits in groups of three, CJK runs, then the word pattern.</summary>
    public static PreTokenizer DeepSeekV3 { get; } = new("deepseek-v3",
        NumberRunPattern.UpToThree, KnownPatterns.DeepSeekV3Cjk, DeepSeekV3WordPattern.Instance);

    /// <summary>DeepSeek LLM / V2 (llama.cpp's "deepseek-llm" list).</summary>
    public static PreTokenizer DeepSeekLlm { get; } = new("deepseek-llm",
        LineBreakPattern.Instance, KnownPatterns.DeepSeekLlmLetters, KnownPatterns.DeepSeekLlmPunctuation,
        TrailingWhitespacePattern.Instance, KnownPatterns.DeepSeekLlmCjk, NumberRunPattern.Unbounded);

    /// <summary>Llama 3 (R1-Distill-Llama).</summary>
    public static PreTokenizer Llama3 { get; } = new("llama3", Llama3WordPattern.Llama3);

    /// <summary>Qwen2 (R1-Distill-Qwen): like Llama 3 but one digit per piece.</summary>
    public static PreTokenizer Qwen2 { get; } = new("qwen2", Llama3WordPattern.Qwen2);

    /// <summary>GPT-2.</summary>
    public static PreTokenizer Gpt2 { get; } = new("gpt2", Gpt2WordPattern.Instance);

    /// <summary>
    /// The pre-tokenizer llama.cpp uses for a GGUF <c>tokenizer.ggml.pre</c> value.
    /// </summary>
    /// <exception cref="NotSupportedException">The name is not one of the supported pre-tokenizers.</exception>
    public static PreTokenizer FromGgufName(string ggufPreName)
    {
        ArgumentNullException.ThrowIfNull(ggufPreName);
        return ggufPreName switch
        {
            "deepseek-v3" => DeepSeekV3,
            "deepseek-llm" => DeepSeekLlm,
            "llama3" or "llama-v3" or "llama-bpe" => Llama3,
            "qwen2" or "deepseek-r1-qwen" => Qwen2,
            "gpt-2" or "gpt2" => Gpt2,
            _ => throw new NotSupportedException(
                $"GGUF pre-tokenizer '{ggufPreName}' is not supported; supported tokenizer.ggml.pre values are " +
                "deepseek-v3, deepseek-llm, llama3, llama-v3, llama-bpe, qwen2, deepseek-r1-qwen, gpt-2."),
        };
    }

    /// <summary>The preset whose steps are exactly <paramref name="patterns"/>, else a custom sequence.</summary>
    internal static PreTokenizer FromPatterns(IReadOnlyList<SplitPattern> patterns)
    {
        foreach (var preset in new[] { DeepSeekV3, DeepSeekLlm, Llama3, Qwen2, Gpt2 })
        {
            if (preset._patterns.SequenceEqual(patterns))
                return preset;
        }
        return new PreTokenizer("custom", patterns.ToArray());
    }
}

/// <summary>The hand-compiled patterns, looked up by their regex text when reading tokenizer.json.</summary>
internal static class KnownPatterns
{
    public static readonly CodePointRangeRunPattern DeepSeekV3Cjk = new(
        "[一-龥\u3040-ゟ゠-ヿ]+", [(0x4E00, 0x9FA5), (0x3040, 0x309F), (0x30A0, 0x30FF)], optionalLeadingWhitespace: false);

    /// <summary>The cased letters of Latin, Greek, Cyrillic, Armenian, Georgian, Cherokee, Glagolitic, Coptic and a few more.</summary>
    private static readonly (int First, int Last)[] s_deepSeekLlmLetterRanges =
    [
        (0x0041, 0x005A), (0x0061, 0x007A), (0x00B5, 0x00B5), (0x00C0, 0x00D6), (0x00D8, 0x00F6), (0x00F8, 0x01BA),
        (0x01BC, 0x01BF), (0x01C4, 0x0293), (0x0295, 0x02AF), (0x0370, 0x0373), (0x0376, 0x0376), (0x0377, 0x0377),
        (0x037B, 0x037D), (0x037F, 0x037F), (0x0386, 0x0386), (0x0388, 0x038A), (0x038C, 0x038C), (0x038E, 0x03A1),
        (0x03A3, 0x03F5), (0x03F7, 0x0481), (0x048A, 0x052F), (0x0531, 0x0556), (0x10A0, 0x10C5), (0x13A0, 0x13F5),
        (0x13F8, 0x13FD), (0x1C90, 0x1CBA), (0x1CBD, 0x1CBF), (0x1D00, 0x1D2B), (0x1D6B, 0x1D77), (0x1D79, 0x1D9A),
        (0x1E00, 0x1F15), (0x1F18, 0x1F1D), (0x1F20, 0x1F45), (0x1F48, 0x1F4D), (0x1F50, 0x1F57), (0x1F59, 0x1F59),
        (0x1F5B, 0x1F5B), (0x1F5D, 0x1F5D), (0x1F5F, 0x1F7D), (0x1F80, 0x1FB4), (0x1FB6, 0x1FBC), (0x1FBE, 0x1FBE),
        (0x1FC2, 0x1FC4), (0x1FC6, 0x1FCC), (0x1FD0, 0x1FD3), (0x1FD6, 0x1FDB), (0x1FE0, 0x1FEC), (0x1FF2, 0x1FF4),
        (0x1FF6, 0x1FFC), (0x2102, 0x2102), (0x2107, 0x2107), (0x210A, 0x2113), (0x2115, 0x2115), (0x2119, 0x211D),
        (0x2124, 0x2124), (0x2126, 0x2126), (0x2128, 0x2128), (0x212A, 0x212D), (0x212F, 0x2134), (0x2139, 0x2139),
        (0x213C, 0x213F), (0x2145, 0x2149), (0x214E, 0x214E), (0x2183, 0x2183), (0x2184, 0x2184), (0x2C00, 0x2C7B),
        (0x2C7E, 0x2CE4), (0x2CEB, 0x2CEE), (0x2CF2, 0x2CF2), (0x2CF3, 0x2CF3), (0xA640, 0xA66D), (0xA680, 0xA69B),
        (0xA722, 0xA76F), (0xA771, 0xA787), (0xA78B, 0xA78E), (0xAB70, 0xABBF), (0xFB00, 0xFB06), (0xFB13, 0xFB17),
        (0xFF21, 0xFF3A), (0xFF41, 0xFF5A), (0x10400, 0x1044F), (0x104B0, 0x104D3), (0x104D8, 0x104FB), (0x10C80, 0x10CB2),
        (0x10CC0, 0x10CF2), (0x118A0, 0x118DF), (0x1E900, 0x1E943),
    ];

    private static readonly (int First, int Last)[] s_deepSeekLlmPunctuationRanges =
        [(0x21, 0x2F), (0x3A, 0x7E), (0xFF01, 0xFF0F), (0xFF1A, 0xFF5E), (0x2018, 0x201F), (0x3000, 0x3002)];

    private static readonly (int First, int Last)[] s_deepSeekLlmCjkRanges = [(0x4E00, 0x9FA5), (0x0800, 0x4E00), (0xAC00, 0xD7FF)];

    public static readonly CodePointRangeRunPattern DeepSeekLlmLetters = new(
        "\\s?" + CharacterClass(s_deepSeekLlmLetterRanges) + "+", s_deepSeekLlmLetterRanges, optionalLeadingWhitespace: true);

    public static readonly CodePointRangeRunPattern DeepSeekLlmPunctuation = new(
        "\\s?" + CharacterClass(s_deepSeekLlmPunctuationRanges) + "+", s_deepSeekLlmPunctuationRanges, optionalLeadingWhitespace: true);

    public static readonly CodePointRangeRunPattern DeepSeekLlmCjk = new(
        CharacterClass(s_deepSeekLlmCjkRanges) + "+", s_deepSeekLlmCjkRanges, optionalLeadingWhitespace: false);

    /// <summary>Writes ranges as a regex class with literal characters, the way the published files spell them.</summary>
    private static string CharacterClass((int First, int Last)[] ranges)
    {
        var sb = new System.Text.StringBuilder("[");
        foreach (var (first, last) in ranges)
        {
            sb.Append(char.ConvertFromUtf32(first));
            if (last != first)
                sb.Append('-').Append(char.ConvertFromUtf32(last));
        }
        return sb.Append(']').ToString();
    }

    /// <summary>All patterns that can appear as a Split step, keyed by their canonical regex text.</summary>
    private static readonly Dictionary<string, SplitPattern> s_byRegex = BuildCatalog();

    private static Dictionary<string, SplitPattern> BuildCatalog()
    {
        var catalog = new Dictionary<string, SplitPattern>(StringComparer.Ordinal);
        void Add(SplitPattern p) => catalog[Canonical(p.RegexSource)] = p;
        Add(NumberRunPattern.UpToThree);
        Add(NumberRunPattern.Single);
        Add(NumberRunPattern.Unbounded);
        Add(DeepSeekV3Cjk);
        Add(DeepSeekV3WordPattern.Instance);
        Add(Llama3WordPattern.Llama3);
        Add(Llama3WordPattern.Qwen2);
        Add(Gpt2WordPattern.Instance);
        Add(LineBreakPattern.Instance);
        Add(TrailingWhitespacePattern.Instance);
        Add(DeepSeekLlmLetters);
        Add(DeepSeekLlmPunctuation);
        Add(DeepSeekLlmCjk);
        // llama.cpp's spelling of the (?i:...) contractions, for files converted back from GGUF.
        catalog[Canonical(Llama3WordPattern.Llama3Source.Replace("(?i:'s|'t|'re|'ve|'m|'ll|'d)", LlamaCppContractions))] = Llama3WordPattern.Llama3;
        catalog[Canonical(Llama3WordPattern.Qwen2Source.Replace("(?i:'s|'t|'re|'ve|'m|'ll|'d)", LlamaCppContractions))] = Llama3WordPattern.Qwen2;
        return catalog;
    }

    private const string LlamaCppContractions = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";

    /// <summary>
    /// Files differ in whether a class holds a literal CR/LF or the escape <c>\r</c>/<c>\n</c>, and in escaping a few
    /// punctuation characters; both spellings mean the same regex.
    /// </summary>
    private static string Canonical(string regex) => regex.Replace("\r", "\\r").Replace("\n", "\\n");

    public static bool TryGet(string regex, out SplitPattern pattern) =>
        s_byRegex.TryGetValue(Canonical(regex), out pattern!);
}
