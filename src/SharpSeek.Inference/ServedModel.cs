using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using SharpSeek.Checkpoints;
using SharpSeek.Formats;
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
/// roots every context-cache key, so a different model never hits another's blocks). Owns and disposes them, and the
/// checkpoint (memory-mapped files) they were read from.
/// </summary>
public sealed class ServedModel : IDisposable
{
    private readonly IDisposable? _resources;

    /// <param name="resources">What the model's weights live in (random weights, an open checkpoint); disposed after the model.</param>
    /// <param name="name">The model id to show (e.g. in /models); defaults to <paramref name="identity"/>.</param>
    /// <param name="description">One line for start-up messages; defaults to the name.</param>
    /// <param name="maxPositions">Positions a sequence may use; defaults to the model config's max_position_embeddings.</param>
    public ServedModel(LanguageModel model, ByteLevelBpeTokenizer tokenizer, string identity, IDisposable? resources = null,
        string? name = null, string? description = null, int? maxPositions = null)
    {
        Model = model;
        Tokenizer = tokenizer;
        Identity = identity;
        _resources = resources;
        Name = name ?? identity;
        Description = description ?? Name;
        MaxPositions = maxPositions ?? model.Config.MaxPositionEmbeddings;
    }

    public LanguageModel Model { get; }
    public ByteLevelBpeTokenizer Tokenizer { get; }

    /// <summary>Names the weights and tokenizer exactly (name + content fingerprint): the context-cache root.</summary>
    public string Identity { get; }

    /// <summary>The model's own name (folder or file name, or random-SIZE-seedN), listed by /models next to deepseek-chat.</summary>
    public string Name { get; }

    /// <summary>What is served, in one line (format, shape, context, tokenizer source).</summary>
    public string Description { get; }

    /// <summary>Positions one sequence (prompt + answer) may use.</summary>
    public int MaxPositions { get; }

    /// <summary>
    /// Opens a GGUF file or an HF safetensors folder (config.json + *.safetensors, FP8 block-scaled included),
    /// memory-mapped, with its tokenizer (see <see cref="CheckpointTokenizer.Resolve"/>). Sequences get
    /// <paramref name="maxPositions"/> positions, or fewer when the model was configured for fewer.
    /// </summary>
    /// <summary>
    /// The tokenizer (chat template included) of the model at <paramref name="modelPath"/>, without loading its weights:
    /// what the router needs to see prompts as the replicas do.
    /// </summary>
    /// <exception cref="ModelLoadException">No model or no readable tokenizer there.</exception>
    public static ByteLevelBpeTokenizer OpenTokenizer(string modelPath, string? tokenizerPath = null)
    {
        string full = Path.GetFullPath(modelPath);
        if (!File.Exists(full) && !Directory.Exists(full))
            throw new ModelLoadException($"no model at '{full}': give a GGUF file or a folder holding config.json and *.safetensors");
        try
        {
            using var checkpoint = Checkpoint.Open(full);
            return CheckpointTokenizer.Resolve(checkpoint, tokenizerPath).Tokenizer;
        }
        catch (Exception e) when (IsLoadFailure(e))
        {
            throw new ModelLoadException($"cannot load the model at '{full}': {e.Message}", e);
        }
    }

    /// <exception cref="ModelLoadException">Anything that keeps the model from loading, with a message for the user.</exception>
    public static ServedModel Open(string modelPath, string? tokenizerPath = null, int maxPositions = 8192)
    {
        if (maxPositions < 2) throw new ModelLoadException("--context must be at least 2");
        string full = Path.GetFullPath(modelPath);
        if (!File.Exists(full) && !Directory.Exists(full))
            throw new ModelLoadException($"no model at '{full}': give a GGUF file or a folder holding config.json and *.safetensors");
        Checkpoint checkpoint;
        try { checkpoint = Checkpoint.Open(full); }
        catch (Exception e) when (IsLoadFailure(e))
        {
            throw new ModelLoadException($"cannot load the model at '{full}': {e.Message}", e);
        }
        try
        {
            var tokenizer = CheckpointTokenizer.Resolve(checkpoint, tokenizerPath);
            var config = checkpoint.Config;
            if (tokenizer.Tokenizer.VocabularySize > config.VocabSize)
                throw new ModelLoadException($"the tokenizer {tokenizer.Source} has {tokenizer.Tokenizer.VocabularySize} ids but the model at '{checkpoint.Path}' " +
                                             $"has a vocabulary of {config.VocabSize}: they do not belong together");
            try { new ChatPromptFormatter(tokenizer.Tokenizer).Format([new PromptMessage("user", "Hello")], ChatMode.Chat); }
            catch (ArgumentException e)
            {
                throw new ModelLoadException($"the tokenizer {tokenizer.Source} cannot encode DeepSeek's chat template ({e.Message}); pass --tokenizer with one that can", e);
            }
            int positions = Math.Min(maxPositions, config.MaxPositionEmbeddings);
            LanguageModel model;
            try { model = checkpoint.CreateModel(new ModelOptions { MaxPositions = positions }); }
            catch (Exception e) when (IsLoadFailure(e) || e is InvalidOperationException)
            {
                throw new ModelLoadException($"cannot build the model from '{checkpoint.Path}': {e.Message}", e);
            }
            string name = checkpoint.Format == CheckpointFormat.Gguf
                ? Path.GetFileNameWithoutExtension(checkpoint.Path)
                : new DirectoryInfo(checkpoint.Path).Name;
            string identity = $"{name}-{ModelFingerprint.Of(checkpoint, TokenizerFingerprint(tokenizer.Tokenizer))}";
            int mtp = config.Architecture == ModelArchitecture.DeepSeek ? config.NumNextnPredictLayers : 0;
            string format = checkpoint.Format == CheckpointFormat.Gguf ? "GGUF" : "safetensors";
            string description = $"{name} ({format} {config.ModelType}, {config.NumHiddenLayers} layers{(mtp > 0 ? $" + {mtp} MTP" : "")}, " +
                                 $"context {positions}; tokenizer {tokenizer.Source})";
            return new ServedModel(model, tokenizer.Tokenizer, identity, checkpoint, name, description, positions);
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }

    // What readers throw for bad files; anything else is a bug and should surface as one.
    private static bool IsLoadFailure(Exception e) =>
        e is InvalidModelFileException or IOException or UnauthorizedAccessException or System.Text.Json.JsonException
            or FormatException or ArgumentException or NotSupportedException or OverflowException or KeyNotFoundException;

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
        string name = $"random-{size}-seed{seed}".ToLowerInvariant();
        string description = $"{name} (deterministic random-weight DeepSeek-V3-shaped model, context {maxPositions}: its answers are gibberish)";
        return new ServedModel(model, tokenizer, identity.ToLowerInvariant(), weights, name, description, maxPositions);
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
        _resources?.Dispose();
    }
}
