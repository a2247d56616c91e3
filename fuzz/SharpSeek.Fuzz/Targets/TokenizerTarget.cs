using System.Text;
using SharpSeek.Tokenizer;

namespace SharpSeek.Fuzz.Targets;

/// <summary>
/// <c>tokenizer.json</c>, optionally followed by a NUL byte and <c>tokenizer_config.json</c> (JSON text never holds a
/// raw NUL, so the split is unambiguous); a tokenizer that loads then encodes and decodes sample text.
/// </summary>
/// <remarks>
/// Clean rejections at load: <see cref="TokenizerFileException"/>, and <see cref="NotSupportedException"/> for the
/// documented case of an NFC normalizer in a process without ICU. After loading, encoding any text must work or
/// fail with <see cref="TextNotEncodableException"/> (a byte with no single-byte token), and decoding what was encoded
/// must not throw.
/// </remarks>
internal static class TokenizerTarget
{
    private static readonly string[] Samples =
    [
        "Hello, world! 12345 don't",
        "<｜begin▁of▁sentence｜><｜User｜>hi<｜Assistant｜><think>\n</think>",
        "  multiple   spaces\n\n\ttabs\r\n",
        "naïve café 你好世界 😀👍🏽 \u0301e",
        "\ud800 lone \udfff surrogates",
        "<|endoftext|><unk>[PAD]<s></s>",
    ];

    public static void Run(byte[] input)
    {
        int nul = Array.IndexOf(input, (byte)0);
        ReadOnlySpan<byte> json = nul < 0 ? input : input.AsSpan(0, nul);
        ReadOnlySpan<byte> config = nul < 0 ? default : input.AsSpan(nul + 1);
        ByteLevelBpeTokenizer tokenizer;
        try { tokenizer = ByteLevelBpeTokenizer.FromHuggingFaceJson(json, config); }
        catch (TokenizerFileException) { return; }
        catch (NotSupportedException) { return; }
        Exercise(tokenizer);
    }

    /// <summary>Encodes and decodes the samples (shared with the GGUF target, whose vocabulary builds the same tokenizer).</summary>
    internal static void Exercise(ByteLevelBpeTokenizer tokenizer)
    {
        foreach (string text in Samples)
        {
            foreach (bool special in (ReadOnlySpan<bool>)[true, false])
            {
                int[] ids;
                try { ids = tokenizer.Encode(text, addSpecialTokens: special, parseSpecialTokens: special); }
                catch (TextNotEncodableException) { continue; } // documented: the vocabulary lacks a byte token
                _ = tokenizer.Decode(ids);
                _ = tokenizer.Decode(ids, skipSpecialTokens: true);
                var stream = tokenizer.CreateStreamDecoder();
                foreach (int id in ids) _ = stream.Append(id);
            }
        }
        for (int id = 0; id < Math.Min(tokenizer.VocabularySize, 512); id++)
        {
            try { _ = tokenizer.TokenBytes(id); }
            catch (ArgumentOutOfRangeException) { } // an id no entry uses: documented
        }
    }
}
