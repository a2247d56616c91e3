using System.Numerics;
using System.Runtime.InteropServices;

namespace SharpSeek.Training.Autodiff;

/// <summary>What the optimizer does with a parameter.</summary>
public enum ParameterRole
{
    /// <summary>A matrix: AdamW with decoupled weight decay.</summary>
    Matrix,
    /// <summary>A norm gain or an embedding table: AdamW without weight decay.</summary>
    NoDecay,
    /// <summary>Updated outside gradient descent (the MoE selection bias): no gradient, no optimizer state.</summary>
    Buffer,
}

/// <summary>
/// A named model tensor (HF checkpoint name and shape) with its value and, when trained, its gradient, both in native
/// memory. Matrices are [out, in]; vectors are [n] and act as 1×n on a tape.
/// </summary>
public sealed unsafe class Parameter<T> : IDisposable where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private T* _value, _grad;

    public Parameter(string name, int[] shape, ParameterRole role)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (shape.Length is < 1 or > 2) throw new ArgumentException($"parameter '{name}' must be a vector or a matrix, got rank {shape.Length}");
        Name = name;
        Shape = (int[])shape.Clone();
        Role = role;
        Rows = shape.Length == 2 ? shape[0] : 1;
        Cols = shape[^1];
        Length = (long)Rows * Cols;
        _value = (T*)NativeMemory.AlignedAlloc((nuint)(Length * sizeof(T)), 64);
        NativeMemory.Clear(_value, (nuint)(Length * sizeof(T)));
        if (role != ParameterRole.Buffer)
        {
            _grad = (T*)NativeMemory.AlignedAlloc((nuint)(Length * sizeof(T)), 64);
            NativeMemory.Clear(_grad, (nuint)(Length * sizeof(T)));
        }
    }

    public string Name { get; }
    public int[] Shape { get; }
    public ParameterRole Role { get; }
    public int Rows { get; }
    public int Cols { get; }
    public long Length { get; }
    public bool Trainable => Role != ParameterRole.Buffer;

    public T* Value => _value != null ? _value : throw new ObjectDisposedException(Name);
    /// <summary>Null for buffers.</summary>
    public T* Grad => _grad;

    public Span<T> Values => new(Value, checked((int)Length));
    public Span<T> Gradients => _grad != null ? new(_grad, checked((int)Length)) : throw new InvalidOperationException($"'{Name}' is a buffer and has no gradient");

    public void ZeroGrad()
    {
        if (_grad != null) NativeMemory.Clear(_grad, (nuint)(Length * sizeof(T)));
    }

    public override string ToString() => $"{Name} [{string.Join(", ", Shape)}]";

    public void Dispose()
    {
        if (_value != null) NativeMemory.AlignedFree(_value);
        if (_grad != null) NativeMemory.AlignedFree(_grad);
        _value = _grad = null;
    }
}
