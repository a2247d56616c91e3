using SharpSeek.Tensors;
using SharpSeek.Tensors.Backend;

namespace SharpSeek.Model;

/// <summary>
/// SwiGLU feed-forward: y = W_down(silu(W_gate x) ⊙ W_up x). The dense layers of every architecture, and DeepSeek's
/// shared experts (n_shared_experts of them act as one SwiGLU of n_shared·moe_intermediate_size).
/// </summary>
internal sealed class DenseFeedForward
{
    private readonly Tensor _gate, _up, _down;

    public int Width { get; }

    public DenseFeedForward(ModelWeights w, string gate, string up, string down, int hidden, int width)
    {
        _gate = w.Get(gate, width, hidden);
        _up = w.Get(up, width, hidden);
        _down = w.Get(down, hidden, width);
        Width = width;
    }

    /// <summary>y[m, hidden] = SwiGLU(x[m, hidden]); y is overwritten.</summary>
    public void Forward(IComputeBackend backend, ReadOnlySpan<float> x, Span<float> y, int m, FeedForwardScratch scratch)
    {
        var g = scratch.Gate.AsSpan(0, m * Width);
        var u = scratch.Up.AsSpan(0, m * Width);
        backend.Linear(_gate, x, g, m);
        backend.Linear(_up, x, u, m);
        backend.SwiGlu(g, u, g);
        backend.Linear(_down, g, y, m);
    }
}

/// <summary>Per-session buffers of the widest SwiGLU in the model, for a batch of tokens.</summary>
internal sealed class FeedForwardScratch(int maxBatch, int maxWidth)
{
    public float[] Gate { get; } = new float[maxBatch * maxWidth];
    public float[] Up { get; } = new float[maxBatch * maxWidth];
}
