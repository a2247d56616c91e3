using SharpSeek.Tensors;

namespace SharpSeek.Formats;

/// <summary>Something that holds named tensors: one GGUF file, one safetensors file, or a directory of shards.</summary>
public interface ITensorSource
{
    /// <summary>Names of all tensors, in file order.</summary>
    IReadOnlyList<string> TensorNames { get; }

    bool ContainsTensor(string name);

    /// <summary>
    /// A zero-copy view of the tensor. Throws <see cref="InvalidModelFileException"/> (naming the file) when the tensor
    /// is absent or stored in a type this reader cannot represent.
    /// </summary>
    Tensor GetTensor(string name);

    /// <summary>Path of the file that holds <paramref name="name"/> (for messages).</summary>
    string FileOf(string name);
}
