using SharpSeek.Checkpoints;
using SharpSeek.Checkpoints.Gguf;
using SharpSeek.Checkpoints.HuggingFace;
using SharpSeek.Formats.Gguf;
using SharpSeek.Inference;
using SharpSeek.Model;
using SharpSeek.Tensors;
using SharpSeek.Tokenizer.Chat;

namespace SharpSeek.Server.Tests;

/// <summary>
/// Small random-weight checkpoints on disk, as users hand them to <c>serve --model</c>: an HF safetensors folder with
/// config.json + tokenizer.json, and a GGUF file with the same vocabulary in its tokenizer.ggml.* metadata.
/// </summary>
public static class TestCheckpoints
{
    /// <summary>Tiny DeepSeek-V3 (MLA + MoE + one MTP layer) sized to the built-in byte tokenizer (DeepSeek's markers included).</summary>
    public static ModelConfig Config()
    {
        int vocab = ServedModel.CreateByteTokenizer().VocabularySize;
        return ModelPresets.TinyDeepSeekV3 with { VocabSize = vocab, MaxPositionEmbeddings = 1024, RopeScaling = null };
    }

    /// <summary>Writes <c>directory</c>/config.json + model.safetensors (+ tokenizer.json unless told not to).</summary>
    public static string WriteSafetensors(string directory, ulong seed = 1, DType weightType = DType.BF16, bool withTokenizer = true)
    {
        HuggingFaceCheckpointWriter.Write(new RandomCheckpoint(Config(), seed), directory, new HuggingFaceWriteOptions { WeightType = weightType });
        if (withTokenizer)
        {
            var (json, config) = ServedModel.ByteTokenizerFiles();
            File.WriteAllBytes(Path.Combine(directory, "tokenizer.json"), json);
            File.WriteAllBytes(Path.Combine(directory, "tokenizer_config.json"), config);
        }
        return directory;
    }

    /// <summary>Writes a GGUF file whose metadata carries the byte tokenizer (or, when told, llama.cpp's placeholder vocabulary).</summary>
    public static string WriteGguf(string path, ulong seed = 1, bool embeddedDeepSeekTokenizer = true, int? vocabSize = null)
    {
        var config = vocabSize is int v ? Config() with { VocabSize = v } : Config();
        var options = new GgufWriteOptions
        {
            WeightType = DType.F32,
            Name = "test model",
            ExtraMetadata = embeddedDeepSeekTokenizer ? ByteTokenizerMetadata() : GgufTokenizerMetadata.Placeholder(config.VocabSize),
        };
        GgufCheckpointWriter.Write(new RandomCheckpoint(config, seed), path, options);
        return path;
    }

    /// <summary>The byte tokenizer as tokenizer.ggml.* entries: control tokens for DeepSeek's markers, user-defined for &lt;think&gt;/&lt;/think&gt;.</summary>
    public static IReadOnlyList<KeyValuePair<string, GgufValue>> ByteTokenizerMetadata()
    {
        const int normal = 1, control = 3, userDefined = 4;
        var tokenizer = ServedModel.CreateByteTokenizer();
        int count = tokenizer.VocabularySize;
        var tokens = new string[count];
        var types = new int[count];
        for (int id = 0; id < count; id++)
        {
            tokens[id] = tokenizer.IdToToken(id);
            types[id] = id < 256 ? normal : tokens[id] is DeepSeekTokens.ThinkBegin or DeepSeekTokens.ThinkEnd ? userDefined : control;
        }
        return
        [
            new("tokenizer.ggml.model", "gpt2"),
            new("tokenizer.ggml.pre", "gpt-2"),
            new("tokenizer.ggml.tokens", GgufArray.Of(tokens)),
            new("tokenizer.ggml.token_type", GgufArray.Of(types)),
            new("tokenizer.ggml.merges", GgufArray.Of(Array.Empty<string>())),
            new("tokenizer.ggml.bos_token_id", (uint)tokenizer.BosTokenId!.Value),
            new("tokenizer.ggml.eos_token_id", (uint)tokenizer.EosTokenId!.Value),
            new("tokenizer.ggml.add_bos_token", false),
        ];
    }

    /// <summary>Cuts <paramref name="path"/> to <paramref name="fraction"/> of its length, as an interrupted download leaves it.</summary>
    public static void Truncate(string path, double fraction = 0.5)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        f.SetLength((long)(f.Length * fraction));
    }

    public static string TempDirectory()
    {
        string dir = Path.Combine(Path.GetTempPath(), "sharpseek-server-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }
}
