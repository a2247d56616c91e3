using SharpSeek.Tokenizer.PreTokenization;

namespace SharpSeek.Tokenizer;

/// <summary>What the file readers (tokenizer.json, GGUF) hand to <see cref="ByteLevelBpeTokenizer"/>'s constructor.</summary>
internal sealed class TokenizerParts
{
    /// <summary>Where the data came from, for error messages.</summary>
    public required string Source { get; init; }

    /// <summary>Token text by id; null for an id no entry uses. Ordinary tokens are in the byte-level alphabet.</summary>
    public required string?[] Tokens { get; init; }

    /// <summary>The merge rules in rank order, as vocab token texts.</summary>
    public required IReadOnlyList<(string Left, string Right)> Merges { get; init; }

    /// <summary>Tokens matched whole in the input; their text is literal, not byte-level.</summary>
    public required IReadOnlyList<AddedToken> AddedTokens { get; init; }

    public required PreTokenizer PreTokenizer { get; init; }

    /// <summary>Emit a piece that is itself a vocab entry without merging (Llama 3's <c>ignore_merges</c>).</summary>
    public bool IgnoreMerges { get; init; }

    /// <summary>Apply Unicode NFC to text before pre-tokenization (Qwen2's normalizer).</summary>
    public bool NormalizeNfc { get; init; }

    /// <summary>Ids added before / after the text when special tokens are requested.</summary>
    public int[] PrefixIds { get; init; } = [];

    public int[] SuffixIds { get; init; } = [];

    public int? BosTokenId { get; init; }

    public int? EosTokenId { get; init; }

    public int? PadTokenId { get; init; }

    /// <summary>Further ids <c>skipSpecialTokens</c> drops (tokenizer_config <c>additional_special_tokens</c>).</summary>
    public IReadOnlyCollection<int> ExtraSpecialIds { get; init; } = [];

    /// <summary>The Jinja chat template shipped with the tokenizer, if any.</summary>
    public string? ChatTemplate { get; init; }

    /// <summary>HF's <c>clean_up_tokenization_spaces</c>: remove spaces before punctuation when decoding.</summary>
    public bool CleanUpTokenizationSpaces { get; init; }
}
