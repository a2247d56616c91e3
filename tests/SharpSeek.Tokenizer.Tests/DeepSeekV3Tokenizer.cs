namespace SharpSeek.Tokenizer.Tests;

/// <summary>The real DeepSeek-V3 tokenizer (from the oracle package's files), loaded once per test run.</summary>
internal static class DeepSeekV3Tokenizer
{
    private static readonly Lazy<ByteLevelBpeTokenizer> s_instance = new(() =>
        ByteLevelBpeTokenizer.FromFile(RepositoryPaths.DeepSeekV3TokenizerJson, RepositoryPaths.DeepSeekV3TokenizerConfig));

    public static ByteLevelBpeTokenizer Instance => s_instance.Value;

    /// <summary>Added-token texts to sprinkle into test strings: control tokens plus DeepSeek's tool/FIM markers.</summary>
    public static IReadOnlyList<string> AddedTokenTexts =>
        Instance.AddedTokens.Select(t => t.Content).Where(c => !c.Contains("place▁holder", StringComparison.Ordinal))
            .Concat(Instance.AddedTokens.Where(t => t.Content.Contains("place▁holder", StringComparison.Ordinal)).Take(5).Select(t => t.Content))
            .ToArray();
}
