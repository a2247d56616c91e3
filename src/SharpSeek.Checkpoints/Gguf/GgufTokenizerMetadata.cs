using SharpSeek.Formats.Gguf;

namespace SharpSeek.Checkpoints.Gguf;

/// <summary>The <c>tokenizer.ggml.*</c> entries of GGUF files.</summary>
public static class GgufTokenizerMetadata
{
    public const string Prefix = "tokenizer.";

    // llama.cpp's llama_token_type values.
    private const int Normal = 1, Control = 3, Unused = 5;

    /// <summary>
    /// A stand-in vocabulary for random-weight models: a byte-level BPE ("gpt2") whose first ids are the 256 byte tokens
    /// (so any text encodes, byte by byte), then <c>[PADn]</c> placeholders, the last id being an end-of-text control token
    /// when the vocabulary has room. llama.cpp needs some tokenizer to load a file; "none" loads but crashes at first use.
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, GgufValue>> Placeholder(int vocabSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabSize, 1);
        var tokens = new string[vocabSize];
        var types = new int[vocabSize];
        var byteText = ByteLevelText();
        for (int i = 0; i < vocabSize; i++)
        {
            tokens[i] = i < 256 ? byteText[i] : $"[PAD{i}]";
            types[i] = i < 256 ? Normal : Unused;
        }
        var list = new List<KeyValuePair<string, GgufValue>>
        {
            new("tokenizer.ggml.model", "gpt2"),
            new("tokenizer.ggml.pre", "gpt-2"),
        };
        if (vocabSize > 256)
        {
            tokens[^1] = "<|endoftext|>";
            types[^1] = Control;
            list.Add(new("tokenizer.ggml.bos_token_id", (uint)(vocabSize - 1)));
            list.Add(new("tokenizer.ggml.eos_token_id", (uint)(vocabSize - 1)));
        }
        list.Add(new("tokenizer.ggml.tokens", GgufArray.Of(tokens)));
        list.Add(new("tokenizer.ggml.token_type", GgufArray.Of(types)));
        list.Add(new("tokenizer.ggml.merges", GgufArray.Of(Array.Empty<string>())));
        list.Add(new("tokenizer.ggml.add_bos_token", false));
        return list;
    }

    /// <summary>The tokenizer entries of an existing file (to carry them into a converted file).</summary>
    public static IReadOnlyList<KeyValuePair<string, GgufValue>> From(GgufMetadata metadata)
        => metadata.Where(kv => kv.Key.StartsWith(Prefix, StringComparison.Ordinal)).ToList();

    /// <summary>GPT-2's byte → printable character map: printable Latin-1 bytes stand for themselves, the rest map to 256+.</summary>
    private static string[] ByteLevelText()
    {
        var text = new string[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            text[b] = ((char)(printable ? b : next++)).ToString();
        }
        return text;
    }
}
