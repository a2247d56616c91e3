using SharpSeek.Formats;
using SharpSeek.Formats.Safetensors;

namespace SharpSeek.Fuzz.Targets;

/// <summary>A safetensors file: header, tensor table, then a view of every tensor whose dtype we hold.</summary>
/// <remarks>Clean rejection: <see cref="InvalidModelFileException"/> only (the reader's own type, with the file named).</remarks>
internal static class SafetensorsTarget
{
    public static void Run(byte[] input)
    {
        using var contents = MemoryContents.Copy(input, "fuzz.safetensors");
        SafetensorsFile file;
        try { file = SafetensorsFile.Parse(contents); }
        catch (InvalidModelFileException) { return; }

        foreach (var info in file.Tensors)
        {
            if (info.DType is null) continue;
            var tensor = file.GetTensor(info);
            if (tensor.ByteLength != info.ByteLength) throw new FuzzPropertyException($"tensor '{info.Name}' view has {tensor.ByteLength} bytes, the table says {info.ByteLength}");
            if (file.DataOffset + info.DataEnd > input.Length) throw new FuzzPropertyException($"tensor '{info.Name}' ends past the file");
        }
    }
}
