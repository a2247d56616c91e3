using SharpSeek.Tokenizer.PreTokenization;

namespace SharpSeek.Tokenizer;

/// <summary>
/// Turns the <c>tokenizer.ggml.*</c> arrays of a GGUF file into tokenizer parts, with llama.cpp's conventions:
/// CONTROL and UNKNOWN tokens are special added tokens, USER_DEFINED tokens are non-special added tokens (both hold
/// literal text), every other token is byte-level vocab text, and merges are "left right" strings in rank order.
/// </summary>
internal static class GgufVocabularyReader
{
    /// <summary>llama.cpp's <c>llama_token_type</c> values.</summary>
    private const int Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6;

    public static TokenizerParts Read(
        string model, string preName, IReadOnlyList<string> tokens, IReadOnlyList<string> merges, IReadOnlyList<int>? tokenTypes,
        int? bos, int? eos, int? pad, bool? addBos, bool? addEos, string? chatTemplate)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(preName);
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(merges);
        const string source = "GGUF tokenizer";
        if (model != "gpt2")
            throw new NotSupportedException(
                $"GGUF tokenizer.ggml.model is '{model}'; only 'gpt2' (byte-level BPE) is supported");
        PreTokenizer preTokenizer = PreTokenizer.FromGgufName(preName);
        if (tokens.Count == 0)
            throw new TokenizerFileException($"{source}: tokenizer.ggml.tokens is empty");
        if (tokenTypes is not null && tokenTypes.Count != tokens.Count)
            throw new TokenizerFileException(
                $"{source}: tokenizer.ggml.token_type has {tokenTypes.Count} entries but tokenizer.ggml.tokens has {tokens.Count}");

        var texts = new string?[tokens.Count];
        var added = new List<AddedToken>();
        for (int id = 0; id < tokens.Count; id++)
        {
            string text = tokens[id] ?? throw new TokenizerFileException($"{source}: token {id} is null");
            int type = tokenTypes?[id] ?? Normal;
            switch (type)
            {
                case Control or Unknown:
                    if (text.Length > 0)
                        added.Add(new AddedToken(id, text, Special: true));
                    break;
                case UserDefined:
                    if (text.Length > 0)
                        added.Add(new AddedToken(id, text, Special: false));
                    break;
                case Normal or Unused or Byte:
                    break;
                default:
                    throw new TokenizerFileException($"{source}: token {id} ('{text}') has unknown token type {type}");
            }
            texts[id] = text;
        }

        var mergePairs = new List<(string, string)>(merges.Count);
        for (int i = 0; i < merges.Count; i++)
        {
            string merge = merges[i] ?? throw new TokenizerFileException($"{source}: merge {i} is null");
            int space = merge.IndexOf(' ');
            if (space <= 0 || space == merge.Length - 1 || merge.IndexOf(' ', space + 1) >= 0)
                throw new TokenizerFileException($"{source}: merge {i} '{merge}' is not two tokens separated by one space");
            mergePairs.Add((merge[..space], merge[(space + 1)..]));
        }

        foreach (var (name, id) in new[] { ("bos_token_id", bos), ("eos_token_id", eos), ("padding_token_id", pad) })
        {
            if (id is int value && (uint)value >= (uint)tokens.Count)
                throw new TokenizerFileException($"{source}: tokenizer.ggml.{name} is {value}, outside the vocabulary (size {tokens.Count})");
        }
        if (addBos == true && bos is null)
            throw new TokenizerFileException($"{source}: tokenizer.ggml.add_bos_token is true but there is no bos_token_id");
        if (addEos == true && eos is null)
            throw new TokenizerFileException($"{source}: tokenizer.ggml.add_eos_token is true but there is no eos_token_id");

        return new TokenizerParts
        {
            Source = source,
            Tokens = texts,
            Merges = mergePairs,
            AddedTokens = added,
            PreTokenizer = preTokenizer,
            // llama.cpp sets ignore_merges for the Llama 3 pre-tokenizer, matching HF's Llama 3 tokenizer.json.
            IgnoreMerges = ReferenceEquals(preTokenizer, PreTokenizer.Llama3),
            NormalizeNfc = false,
            PrefixIds = addBos == true ? [bos!.Value] : [],
            SuffixIds = addEos == true ? [eos!.Value] : [],
            BosTokenId = bos,
            EosTokenId = eos,
            PadTokenId = pad,
            ChatTemplate = chatTemplate,
        };
    }
}
