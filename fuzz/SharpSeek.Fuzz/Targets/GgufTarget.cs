using SharpSeek.Checkpoints.Gguf;
using SharpSeek.Formats;
using SharpSeek.Formats.Gguf;
using SharpSeek.Inference;
using SharpSeek.Tokenizer;

namespace SharpSeek.Fuzz.Targets;

/// <summary>
/// A GGUF file: the reader proper, then what loading a model does with a file that parsed (every tensor view, the
/// model metadata, the embedded vocabulary).
/// </summary>
/// <remarks>
/// Clean rejections: the reader may only throw <see cref="InvalidModelFileException"/>. The metadata and vocabulary
/// steps may throw what the model loader turns into a <c>ModelLoadException</c> for the user (ServedModel and
/// CheckpointTokenizer name those types); anything else would reach the user as a crash.
/// </remarks>
internal static class GgufTarget
{
    public static void Run(byte[] input)
    {
        using var contents = MemoryContents.Copy(input, "fuzz.gguf");
        GgufFile file;
        try { file = GgufFile.Parse(contents); }
        catch (InvalidModelFileException) { return; }

        foreach (var info in file.Tensors)
        {
            if (info.DType is null) continue;
            var tensor = file.GetTensor(info);
            if (tensor.ByteLength != info.ByteLength) throw new FuzzPropertyException($"tensor '{info.Name}' view has {tensor.ByteLength} bytes, the table says {info.ByteLength}");
            if (file.DataOffset + info.Offset + tensor.ByteLength > input.Length) throw new FuzzPropertyException($"tensor '{info.Name}' ends past the file");
        }
        foreach (var (_, value) in file.Metadata) _ = value.Describe();

        try { _ = GgufModelMetadata.Read(file); }
        catch (Exception e) when (IsModelLoadFailure(e)) { }

        try
        {
            if (CheckpointTokenizer.FromGgufMetadata(file.Metadata) is { } tokenizer)
                TokenizerTarget.Exercise(tokenizer);
        }
        catch (Exception e) when (IsTokenizerLoadFailure(e)) { }
    }

    // ServedModel.IsLoadFailure: what Checkpoint.Open may throw for a bad file.
    private static bool IsModelLoadFailure(Exception e) =>
        e is InvalidModelFileException or IOException or System.Text.Json.JsonException or FormatException or ArgumentException
            or NotSupportedException or OverflowException or KeyNotFoundException;

    // CheckpointTokenizer.Resolve: what it turns into a ModelLoadException.
    private static bool IsTokenizerLoadFailure(Exception e) =>
        e is TokenizerFileException or InvalidModelFileException or OverflowException or NotSupportedException or IOException
            or InvalidCastException or KeyNotFoundException;
}
