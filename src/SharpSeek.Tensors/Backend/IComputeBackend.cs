using SharpSeek.Tensors.Kernels;

namespace SharpSeek.Tensors.Backend;

/// <summary>
/// The heavy operations a transformer forward pass needs, so the model code never calls a kernel directly and another
/// backend (CUDA, or an expert-parallel one) can replace <see cref="CpuBackend"/> without touching the model.
/// </summary>
/// <remarks>
/// Activations are host spans of F32, rows outermost ([tokens, features]); weights are <see cref="Tensor"/>s of any
/// dtype (a device backend keeps its own resident copy keyed by the tensor object). Norm weights and biases are F32
/// tensors. Calls are synchronous: outputs are complete when a method returns.
/// </remarks>
public interface IComputeBackend
{
    /// <summary>y[m, N] = x[m, K] · Wᵀ for a weight [N, K] of any dtype (F32, F16, BF16, F8E4M3 with block scales, Q8_0, Q4_0, Q4_K, Q6_K).</summary>
    void Linear(Tensor weight, ReadOnlySpan<float> x, Span<float> y, int m);

    /// <summary>
    /// A batched GEMM with one weight per group (e.g. per attention head): for every group g and row t &lt; m,
    /// y[t, g, :N] = x[t, g, :K] · W_gᵀ, all weights [N, K] of one dtype. Element i of (t, g) sits at
    /// t·tokenStride + g·groupStride + i in x and y. Absorbed MLA folds W_kb into the queries and applies W_vb this way.
    /// </summary>
    void GroupedLinear(IReadOnlyList<Tensor> weights, ReadOnlySpan<float> x, int xTokenStride, int xGroupStride,
        Span<float> y, int yTokenStride, int yGroupStride, int m);

    /// <summary>Adds an F32 bias [N] to each of the <paramref name="m"/> rows of y[m, N].</summary>
    void AddBias(Tensor bias, Span<float> y, int m);

    /// <summary>output[i] = row ids[i] of an embedding table [vocab, dim] of any dtype, as F32.</summary>
    void Embed(Tensor table, ReadOnlySpan<int> ids, Span<float> output);

    /// <summary>Row-wise RMSNorm of <paramref name="rows"/> contiguous rows of weight.Length (F32 weight).</summary>
    void RmsNorm(ReadOnlySpan<float> x, Tensor weight, Span<float> y, int rows, float eps);

    /// <summary>
    /// Rotates, in place, <paramref name="heads"/> heads of every token row of <paramref name="x"/>: token t's head h
    /// starts at t·tokenStride + h·headStride + offset and is rotated for position firstPosition + t.
    /// </summary>
    void Rope(RopeTable table, Span<float> x, int tokens, int tokenStride, int heads, int headStride, int offset, int firstPosition);

    /// <summary>SwiGLU's gate y = silu(gate) ⊙ up (y may alias gate or up).</summary>
    void SwiGlu(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> y);

    /// <summary>
    /// Causal attention of a ragged batch: each sequence's query rows attend over that sequence's paged cache (see
    /// <see cref="Kernels.Attention.Paged"/>). One call covers every sequence of a forward step.
    /// </summary>
    void Attention(in AttentionShape shape, ReadOnlySpan<AttentionSequence> sequences, ReadOnlySpan<int> pageTable, in KvPageView kv,
        ReadOnlySpan<float> queries, Span<float> output);

    /// <summary>
    /// Mixture-of-experts dispatch and combine: y[t] = Σ_j weights[t, j] · Expert_{ids[t, j]}(x[t]) for
    /// <paramref name="tokens"/> rows of x, with <paramref name="topK"/> (id, weight) pairs per token. This is the one
    /// place tokens travel to experts and back, so an expert-parallel backend replaces only this method with its
    /// all-to-all exchange. y is overwritten.
    /// </summary>
    void MoeDispatchCombine(ExpertWeights experts, ReadOnlySpan<float> x, int tokens, ReadOnlySpan<int> ids,
        ReadOnlySpan<float> weights, int topK, Span<float> y);
}
