using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using SharpSeek.Model;
using SharpSeek.Tokenizer;
using SharpSeek.Tokenizer.Chat;

namespace SharpSeek.Inference;

/// <summary>Sizes of the random-weight DeepSeek-V3-shaped models the engine can build by itself.</summary>
public enum RandomModelSize
{
    /// <summary>Hidden 32, 2 layers: for tests (milliseconds per token).</summary>
    Tiny,
    /// <summary>Hidden 256, 4 layers: the default of <c>sharpseek serve</c> without a model file.</summary>
    Small,
    /// <summary>Hidden 512, 6 layers: benchmarks where prefill must dominate a request's time.</summary>
    Medium,
}

/// <summary>
/// What a server serves: weights bound to a forward pass, the tokenizer, and an identity string naming both (it
/// roots every context-cache key, so a different model never hits another's blocks). Owns and disposes them.
/// </summary>
public sealed class ServedModel : IDisposable
{
    private readonly ModelWeights? _weights;

    public ServedModel(LanguageModel model, ByteLevelBpeTokenizer tokenizer, string identity, ModelWeights? weights = null)
    {
        Model = model;
        Tokenizer = tokenizer;
        Identity = identity;
        _weights = weights;
    }

    public LanguageModel Model { get; }
    public ByteLevelBpeTokenizer Tokenizer { get; }
    public string Identity { get; }

    /// <summary>The DeepSeek-V3 shape at <paramref name="size"/> with <paramref name="vocabSize"/> tokens and one MTP layer.</summary>
    public static ModelConfig RandomModelConfig(RandomModelSize size, int vocabSize, int maxPositions)
    {
        var tiny = ModelPresets.TinyDeepSeekV3;
        return size switch
        {
            RandomModelSize.Tiny => tiny with { VocabSize = vocabSize, NumHiddenLayers = 2, MaxPositionEmbeddings = maxPositions, RopeScaling = null },
            RandomModelSize.Small => tiny with
            {
                VocabSize = vocabSize, HiddenSize = 256, NumHiddenLayers = 4, NumAttentionHeads = 8, NumKeyValueHeads = 8,
                QLoraRank = 128, KvLoraRank = 64, QkNopeHeadDim = 32, QkRopeHeadDim = 16, VHeadDim = 32,
                IntermediateSize = 512, MoeIntermediateSize = 128, NRoutedExperts = 16, NumExpertsPerTok = 4,
                MaxPositionEmbeddings = maxPositions, RopeScaling = null,
            },
            _ => tiny with
            {
                VocabSize = vocabSize, HiddenSize = 512, NumHiddenLayers = 6, NumAttentionHeads = 8, NumKeyValueHeads = 8,
                QLoraRank = 256, KvLoraRank = 128, QkNopeHeadDim = 64, QkRopeHeadDim = 32, VHeadDim = 64,
                IntermediateSize = 1536, MoeIntermediateSize = 256, NRoutedExperts = 16, NumExpertsPerTok = 4,
                MaxPositionEmbeddings = maxPositions, RopeScaling = null,
            },
        };
    }

    /// <summary>
    /// A deterministic random-weight model (same <paramref name="seed"/> and size, same weights) over
    /// <paramref name="tokenizer"/> (by default <see cref="CreateByteTokenizer"/>). Its output is gibberish, but every
    /// part of serving runs for real.
    /// </summary>
    public static ServedModel CreateRandom(RandomModelSize size, int seed, int maxPositions = 8192, ByteLevelBpeTokenizer? tokenizer = null)
    {
        tokenizer ??= CreateByteTokenizer();
        var config = RandomModelConfig(size, tokenizer.VocabularySize, maxPositions);
        var weights = RandomWeights.Create(config, seed);
        var model = LanguageModel.Create(config, weights, new ModelOptions { MaxPositions = maxPositions });
        string identity = $"random-{size}-seed{seed}-vocab{tokenizer.VocabularySize}-{TokenizerFingerprint(tokenizer)}";
        return new ServedModel(model, tokenizer, identity.ToLowerInvariant(), weights);
    }

    /// <summary>
    /// A byte-level BPE tokenizer with no merges: one token per byte (GPT-2's byte-to-character alphabet) plus
    /// DeepSeek's special tokens (sentence, role, reasoning, tool and FIM markers). Every text encodes, one token per
    /// UTF-8 byte, so it serves any model whose vocabulary it fits.
    /// </summary>
    public static ByteLevelBpeTokenizer CreateByteTokenizer()
    {
        var (json, config) = ByteTokenizerFiles();
        return ByteLevelBpeTokenizer.FromHuggingFaceJson(json, config);
    }

    /// <summary>The tokenizer.json and tokenizer_config.json contents of <see cref="CreateByteTokenizer"/>.</summary>
    public static (byte[] TokenizerJson, byte[] ConfigJson) ByteTokenizerFiles()
    {
        string[] specials =
        [
            DeepSeekTokens.BeginOfSentence, DeepSeekTokens.EndOfSentence, DeepSeekTokens.User, DeepSeekTokens.Assistant,
            DeepSeekTokens.ThinkBegin, DeepSeekTokens.ThinkEnd,
            DeepSeekTokens.ToolCallsBegin, DeepSeekTokens.ToolCallsEnd, DeepSeekTokens.ToolCallBegin, DeepSeekTokens.ToolCallEnd,
            DeepSeekTokens.ToolSeparator, DeepSeekTokens.ToolOutputsBegin, DeepSeekTokens.ToolOutputsEnd,
            DeepSeekTokens.ToolOutputBegin, DeepSeekTokens.ToolOutputEnd,
            ChatPromptFormatter.FimBegin, ChatPromptFormatter.FimHole, ChatPromptFormatter.FimEnd, "<｜▁pad▁｜>",
        ];
        var alphabet = ByteAlphabet();
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteString("version", "1.0");
            w.WriteStartArray("added_tokens");
            for (int i = 0; i < specials.Length; i++)
            {
                w.WriteStartObject();
                w.WriteNumber("id", 256 + i);
                w.WriteString("content", specials[i]);
                // <think> and </think> are not "special" in DeepSeek's tokenizer (they show when decoding); the rest are.
                w.WriteBoolean("special", specials[i] is not (DeepSeekTokens.ThinkBegin or DeepSeekTokens.ThinkEnd));
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteNull("normalizer");
            w.WriteStartObject("pre_tokenizer");
            w.WriteString("type", "ByteLevel");
            w.WriteBoolean("add_prefix_space", false);
            w.WriteBoolean("trim_offsets", false);
            w.WriteBoolean("use_regex", true);
            w.WriteEndObject();
            w.WriteNull("post_processor");
            w.WriteStartObject("decoder");
            w.WriteString("type", "ByteLevel");
            w.WriteEndObject();
            w.WriteStartObject("model");
            w.WriteString("type", "BPE");
            w.WriteStartObject("vocab");
            for (int b = 0; b < 256; b++) w.WriteNumber(alphabet[b].ToString(), b);
            w.WriteEndObject();
            w.WriteStartArray("merges");
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        var config = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["bos_token"] = DeepSeekTokens.BeginOfSentence,
            ["eos_token"] = DeepSeekTokens.EndOfSentence,
            ["pad_token"] = "<｜▁pad▁｜>",
            ["add_bos_token"] = true,
            ["add_eos_token"] = false,
            ["clean_up_tokenization_spaces"] = false,
        });
        return (ms.ToArray(), config);
    }

    /// <summary>GPT-2's reversible byte → printable character map: printable Latin-1 bytes stand for themselves, the rest shift to U+0100….</summary>
    private static char[] ByteAlphabet()
    {
        var map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = printable ? (char)b : (char)next++;
        }
        return map;
    }

    private static string TokenizerFingerprint(ByteLevelBpeTokenizer tokenizer)
    {
        var sb = new StringBuilder();
        for (int id = 0; id < tokenizer.VocabularySize; id += Math.Max(1, tokenizer.VocabularySize / 512))
        {
            try { sb.Append(Convert.ToHexString(tokenizer.TokenBytes(id))).Append(','); }
            catch (ArgumentOutOfRangeException) { sb.Append("-,"); }
        }
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())))[..12];
    }

    public void Dispose()
    {
        Model.Dispose();
        _weights?.Dispose();
    }
}
