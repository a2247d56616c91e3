namespace SharpSeek.Tensors.Backend;

/// <summary>
/// The routed experts of one MoE layer: expert e is the SwiGLU W_down(silu(W_gate x) ⊙ W_up x) with
/// gate/up [intermediate, hidden] and down [hidden, intermediate]. Built either from one tensor per expert
/// (HF checkpoints) or from stacked [experts, out, in] tensors (GGUF's ffn_*_exps), which are cut into per-expert views
/// once, here, so dispatch never allocates.
/// </summary>
public sealed class ExpertWeights
{
    private readonly Tensor[] _gate, _up, _down;

    public int Count => _gate.Length;
    public int HiddenSize { get; }
    public int IntermediateSize { get; }

    public ExpertWeights(IReadOnlyList<Tensor> gate, IReadOnlyList<Tensor> up, IReadOnlyList<Tensor> down)
    {
        if (gate.Count == 0 || up.Count != gate.Count || down.Count != gate.Count)
            throw new ArgumentException($"experts need as many gate, up and down weights (got {gate.Count}, {up.Count}, {down.Count}) and at least one");
        _gate = gate.ToArray();
        _up = up.ToArray();
        _down = down.ToArray();
        IntermediateSize = (int)_gate[0].Rows;
        HiddenSize = _gate[0].Cols;
        for (int e = 0; e < Count; e++)
        {
            Check(_gate[e], IntermediateSize, HiddenSize, "gate", e);
            Check(_up[e], IntermediateSize, HiddenSize, "up", e);
            Check(_down[e], HiddenSize, IntermediateSize, "down", e);
        }

        static void Check(Tensor t, int rows, int cols, string what, int e)
        {
            if (t.Rank != 2 || t.Rows != rows || t.Cols != cols)
                throw new ArgumentException($"expert {e} {what} weight is [{string.Join(", ", t.Shape)}], expected [{rows}, {cols}]");
        }
    }

    /// <summary>Per-expert views of stacked tensors gate/up [E, intermediate, hidden] and down [E, hidden, intermediate].</summary>
    public static ExpertWeights FromStacked(Tensor gate, Tensor up, Tensor down)
    {
        if (gate.Rank != 3 || up.Rank != 3 || down.Rank != 3)
            throw new ArgumentException($"stacked expert weights must be [experts, out, in]; got gate [{string.Join(", ", gate.Shape)}], up [{string.Join(", ", up.Shape)}], down [{string.Join(", ", down.Shape)}]");
        return new ExpertWeights(Split(gate), Split(up), Split(down));
    }

    /// <summary>Expert e's 2-D view of a stacked [E, out, in] tensor (FP8 block scales are split along with it).</summary>
    public static Tensor[] Split(Tensor stacked)
    {
        int experts = stacked.Shape[0], rows = stacked.Shape[1], cols = stacked.Shape[2];
        var views = new Tensor[experts];
        for (int e = 0; e < experts; e++)
        {
            var view = stacked.Narrow(e, 1).Reshape(rows, cols);
            if (stacked.BlockScales is { } scales)
            {
                // Scales of a stacked FP8 tensor are [E·ceil(rows/128), ceil(cols/128)]: whole 128-row blocks per expert.
                int blocks = (rows + Tensor.Fp8BlockSize - 1) / Tensor.Fp8BlockSize;
                if (rows % Tensor.Fp8BlockSize != 0 || scales.Rank != 2 || scales.Shape[0] != experts * blocks)
                    throw new ArgumentException($"stacked FP8 experts need {experts}·{blocks} block-scale rows of whole 128-row blocks; scales are [{string.Join(", ", scales.Shape)}]");
                view.WithBlockScales(scales.Narrow(e * blocks, blocks));
            }
            views[e] = view;
        }
        return views;
    }

    public Tensor Gate(int expert) => _gate[expert];
    public Tensor Up(int expert) => _up[expert];
    public Tensor Down(int expert) => _down[expert];
}
