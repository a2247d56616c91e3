using System.Numerics.Tensors;

namespace SharpSeek.Tensors.Kernels;

/// <summary>Element-wise activations and softmax.</summary>
public static class Activations
{
    /// <summary>In-place numerically stable softmax (max subtracted before exp).</summary>
    public static void Softmax(Span<float> x)
    {
        if (x.IsEmpty) return;
        float max = TensorPrimitives.Max(x);
        if (float.IsNegativeInfinity(max)) throw new ArgumentException("Softmax: every input is -inf (fully masked row)");
        TensorPrimitives.Subtract(x, max, x);
        TensorPrimitives.Exp(x, x);
        float sum = TensorPrimitives.Sum(x);
        TensorPrimitives.Multiply(x, 1f / sum, x);
    }

    /// <summary>SwiGLU's gate: y = silu(gate) ⊙ up, silu(g) = g·sigmoid(g).</summary>
    public static void SiluMul(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> y)
    {
        if (up.Length != gate.Length || y.Length != gate.Length)
            throw new ArgumentException($"SiluMul: gate {gate.Length}, up {up.Length}, output {y.Length} must match");
        // sigmoid via TensorPrimitives (vectorised exp), then two multiplies; y may alias gate or up.
        int n = gate.Length;
        Span<float> tmp = n <= 4096 ? stackalloc float[n] : new float[n];
        TensorPrimitives.Sigmoid(gate, tmp);
        TensorPrimitives.Multiply(tmp, gate, tmp);
        TensorPrimitives.Multiply(tmp, up, y);
    }

    public static void Sigmoid(ReadOnlySpan<float> x, Span<float> y)
    {
        if (y.Length != x.Length) throw new ArgumentException($"Sigmoid: input {x.Length} and output {y.Length} differ");
        TensorPrimitives.Sigmoid(x, y);
    }
}
