using System.Globalization;
using SharpSeek.Checkpoints;
using SharpSeek.Formats;
using SharpSeek.Formats.Gguf;
using SharpSeek.Tokenizer;

namespace SharpSeek.Inference;

/// <summary>A tokenizer and where it was found (for the start-up line and error messages).</summary>
public sealed record ResolvedTokenizer(ByteLevelBpeTokenizer Tokenizer, string Source);

/// <summary>
/// Finds the tokenizer that goes with a checkpoint. Order: an explicit path; tokenizer.json in an HF checkpoint's
/// folder; the <c>tokenizer.ggml.*</c> metadata of a GGUF file; tokenizer.json beside a GGUF file. A GGUF's own
/// vocabulary wins over a stray tokenizer.json next to it because the file was converted together with it.
/// </summary>
public static class CheckpointTokenizer
{
    public const string FileName = "tokenizer.json";

    /// <exception cref="ModelLoadException">No tokenizer is found, or the one found cannot be read.</exception>
    public static ResolvedTokenizer Resolve(Checkpoint checkpoint, string? explicitPath)
    {
        try
        {
            if (explicitPath is not null)
            {
                string full = Path.GetFullPath(explicitPath);
                if (Directory.Exists(full)) return new(ByteLevelBpeTokenizer.FromDirectory(full), Path.Combine(full, FileName));
                if (!File.Exists(full)) throw new ModelLoadException($"--tokenizer: no tokenizer.json or folder at '{full}'");
                return new(ByteLevelBpeTokenizer.FromFile(full), full);
            }
            if (checkpoint.Format == CheckpointFormat.HuggingFace)
            {
                string json = Path.Combine(checkpoint.Path, FileName);
                if (File.Exists(json)) return new(ByteLevelBpeTokenizer.FromFile(json), json);
                throw new ModelLoadException($"no tokenizer for the model in '{checkpoint.Path}': the folder has no {FileName}; pass --tokenizer PATH (a tokenizer.json or the folder holding it)");
            }
            if (checkpoint.Gguf is { } gguf && FromGgufMetadata(gguf.Metadata) is { } embedded)
                return new(embedded, $"{checkpoint.Path} (tokenizer.ggml.* metadata)");
            string beside = Path.Combine(Path.GetDirectoryName(checkpoint.Path)!, FileName);
            if (File.Exists(beside)) return new(ByteLevelBpeTokenizer.FromFile(beside), beside);
            throw new ModelLoadException($"no tokenizer for '{checkpoint.Path}': the GGUF file has no tokenizer.ggml.* metadata and there is no {FileName} beside it; pass --tokenizer PATH (a tokenizer.json or the folder holding it)");
        }
        catch (Exception e) when (e is TokenizerFileException or InvalidModelFileException or OverflowException or NotSupportedException or IOException or UnauthorizedAccessException or InvalidCastException or KeyNotFoundException)
        {
            throw new ModelLoadException($"cannot read the tokenizer of '{checkpoint.Path}': {e.Message}", e);
        }
    }

    /// <summary>The byte-level BPE described by a GGUF file's <c>tokenizer.ggml.*</c> entries; null when it has none.</summary>
    /// <exception cref="TokenizerFileException">The entries are inconsistent.</exception>
    /// <exception cref="NotSupportedException">The vocabulary is not a byte-level BPE ("gpt2").</exception>
    public static ByteLevelBpeTokenizer? FromGgufMetadata(GgufMetadata metadata)
    {
        if (!metadata.ContainsKey("tokenizer.ggml.model") || !metadata.ContainsKey("tokenizer.ggml.tokens")) return null;
        int? Id(string key) => metadata.ContainsKey(key) ? checked((int)metadata.GetInteger(key)) : null;
        bool? Flag(string key) => metadata.ContainsKey(key) ? metadata.GetBool(key) : null;
        int[]? types = metadata.TryGetValue("tokenizer.ggml.token_type", out var value) && value.Value is GgufArray array
            ? TokenTypes(array, metadata.FilePath)
            : null;
        return ByteLevelBpeTokenizer.FromGguf(
            metadata.GetString("tokenizer.ggml.model"),
            metadata.GetString("tokenizer.ggml.pre", "default"),
            metadata.GetArray<string>("tokenizer.ggml.tokens"),
            metadata.ContainsKey("tokenizer.ggml.merges") ? metadata.GetArray<string>("tokenizer.ggml.merges") : [],
            types,
            Id("tokenizer.ggml.bos_token_id"), Id("tokenizer.ggml.eos_token_id"), Id("tokenizer.ggml.padding_token_id"),
            Flag("tokenizer.ggml.add_bos_token"), Flag("tokenizer.ggml.add_eos_token"),
            metadata.ContainsKey("tokenizer.chat_template") ? metadata.GetString("tokenizer.chat_template") : null);
    }

    /// <summary>
    /// The token types as ints. Only integer arrays are types: a string array made Convert throw FormatException, which
    /// no caller expects from a bad file (found with a hand-made input for the gguf fuzz target).
    /// </summary>
    private static int[] TokenTypes(GgufArray array, string path)
    {
        if (array.ElementType is not (GgufValueType.Int8 or GgufValueType.UInt8 or GgufValueType.Int16 or GgufValueType.UInt16
            or GgufValueType.Int32 or GgufValueType.UInt32 or GgufValueType.Int64 or GgufValueType.UInt64))
            throw new InvalidModelFileException(path, $"metadata key 'tokenizer.ggml.token_type' is an array of {array.ElementType}, expected integers");
        return array.Items.Cast<object>().Select(o => Convert.ToInt32(o, CultureInfo.InvariantCulture)).ToArray();
    }
}
