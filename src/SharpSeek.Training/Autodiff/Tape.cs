using System.Numerics;
using SharpSeek.Tensors.Threading;
using SharpSeek.Training.Precision;

namespace SharpSeek.Training.Autodiff;

/// <summary>One recorded operation's backward pass: reads its output's gradient, adds into its inputs' gradients.</summary>
public abstract class TapeStep
{
    public abstract void Backward();

    /// <summary>
    /// A step that talks to other processes (expert parallelism's exchanges) runs even when nothing downstream wrote its
    /// output's gradient on this rank (it then sends zeros): every rank must make the same collective calls in the same order.
    /// </summary>
    public virtual bool Collective => false;
}

/// <summary>
/// Reverse-mode automatic differentiation by a Wengert list. Each op (the extension methods in <c>Ops/</c>) computes its
/// output at once and, if any input takes gradients, records a <see cref="TapeStep"/> holding what its backward needs.
/// <see cref="Backward"/> seeds the loss gradient and runs the steps in reverse order; when a step has run, its
/// outputs' gradients are no longer needed and go back to the arena, so gradient memory stays near one layer's worth.
/// </summary>
/// <remarks>
/// The element type is f32 for training and f64 for gradient checks: the same op code runs in both, f32 through the
/// packed GEMM and with the configured <see cref="GemmPrecision"/> (BF16/FP8 simulation), f64 exactly.
/// </remarks>
public sealed unsafe class Tape<T> : IDisposable where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly ActivationArena _arena = new();
    private readonly List<(TapeStep Step, Node<T>[] Outputs)> _steps = [];
    // For each parameter used this micro-batch, the number of steps recorded before its first leaf: no step below that
    // index can touch its gradient, so once the backward pass has run down to it the gradient is final.
    private readonly Dictionary<Parameter<T>, int> _firstUse = [];
    private readonly List<Parameter<T>> _final = [];
    private (Parameter<T> Parameter, int FirstUse)[] _byFirstUse = [];
    private static readonly Comparer<(Parameter<T> Parameter, int FirstUse)> s_latestFirst = Comparer<(Parameter<T> Parameter, int FirstUse)>.Create((a, b) => b.FirstUse.CompareTo(a.FirstUse));

    public Tape(ComputePool pool, PrecisionPolicy? precision = null)
    {
        Pool = pool;
        Precision = precision ?? PrecisionPolicy.F32;
        WeightOperands = new WeightOperandCache(pool);
    }

    public ComputePool Pool { get; }
    /// <summary>How GEMM inputs are rounded in each role (f32 tapes only; f64 tapes always compute exactly).</summary>
    public PrecisionPolicy Precision { get; set; }
    /// <summary>Off for evaluation: no node takes gradients and nothing is recorded.</summary>
    public bool GradientsEnabled { get; set; } = true;
    /// <summary>Rounded copies of weights for BF16/FP8 GEMMs, made once per optimizer step.</summary>
    internal WeightOperandCache WeightOperands { get; }

    public long PeakActivationBytes => _arena.PeakBytes;
    /// <summary>
    /// Called during <see cref="Backward"/> with parameters whose gradients no remaining step can change, as soon as that
    /// is so (the last layers' first): data-parallel training starts their all-reduce while the backward pass goes on.
    /// </summary>
    public Action<List<Parameter<T>>>? GradientsFinal { get; set; }
    /// <summary>Bytes the activation arena holds from the system (in use + kept for reuse).</summary>
    public long OwnedActivationBytes => _arena.OwnedBytes;

    /// <summary>A constant input (token embeddings fed from outside, targets…): never takes gradients.</summary>
    public Node<T> Constant(ReadOnlySpan<T> values, int rows, int cols)
    {
        if (values.Length != (long)rows * cols) throw new ArgumentException($"{values.Length} values do not fill [{rows}, {cols}]");
        var node = NewNode(rows, cols, requiresGrad: false);
        values.CopyTo(node.Values);
        return node;
    }

    /// <summary>The whole parameter as a node (vectors are 1×n).</summary>
    public Node<T> Leaf(Parameter<T> p) => Leaf(p, 0, p.Rows);

    /// <summary>Rows [first, first + count) of a matrix parameter: contiguous, so the view shares value and gradient.</summary>
    public Node<T> Leaf(Parameter<T> p, int firstRow, int rowCount)
    {
        if (firstRow < 0 || rowCount < 0 || firstRow + rowCount > p.Rows)
            throw new ArgumentOutOfRangeException(nameof(firstRow), $"rows [{firstRow}, {firstRow + rowCount}) are outside '{p.Name}' [{p.Rows}, {p.Cols}]");
        long offset = (long)firstRow * p.Cols;
        bool grad = GradientsEnabled && p.Trainable;
        if (grad) _firstUse.TryAdd(p, _steps.Count);
        return new Node<T>(this, rowCount, p.Cols, p.Value + offset, grad ? p.Grad + offset : null, grad);
    }

    /// <summary>A fresh node whose value the caller fills; it takes gradients when asked and gradients are enabled.</summary>
    public Node<T> NewNode(int rows, int cols, bool requiresGrad)
        => new(this, rows, cols, (T*)_arena.Rent((long)rows * cols * sizeof(T), zero: false), null, requiresGrad && GradientsEnabled);

    /// <summary>True when an op with these inputs must produce a differentiable output.</summary>
    public bool AnyRequiresGrad(params Node<T>?[] inputs)
    {
        if (!GradientsEnabled) return false;
        foreach (var n in inputs) if (n is { RequiresGrad: true }) return true;
        return false;
    }

    internal T* Rent(long count) => (T*)_arena.Rent(count * sizeof(T), zero: false);
    internal T* RentZeroed(long count) => (T*)_arena.Rent(count * sizeof(T), zero: true);
    internal void Return(T* p) => _arena.Return(p);
    internal float* RentFloats(long count) => (float*)_arena.Rent(count * sizeof(float), zero: false);
    internal void ReturnFloats(float* p) => _arena.Return(p);

    /// <summary>Records a backward step; its <paramref name="outputs"/>' gradients are released after it runs.</summary>
    public void Record(TapeStep step, params Node<T>[] outputs)
    {
        if (!GradientsEnabled) return;
        _steps.Add((step, outputs));
    }

    /// <summary>Back-propagates from the scalar <paramref name="loss"/>, seeding its gradient with <paramref name="seed"/> (1/accumulation steps, say).</summary>
    public void Backward(Node<T> loss, T seed)
    {
        if (loss.Length != 1) throw new ArgumentException($"backward starts from a scalar, got [{loss.Rows}, {loss.Cols}]");
        if (!loss.RequiresGrad) throw new InvalidOperationException("the loss does not depend on anything that takes gradients");
        loss.Grad[0] += seed;
        var notify = GradientsFinal;
        int next = 0, used = notify is null ? 0 : SortByFirstUse();
        for (int i = _steps.Count - 1; i >= 0; i--)
        {
            if (notify is not null) next = Notify(notify, next, used, i);
            var (step, outputs) = _steps[i];
            bool any = false;
            foreach (var o in outputs) any |= o.HasGrad;
            if (any || step.Collective) step.Backward();
            foreach (var o in outputs) o.ReleaseGrad();
        }
        if (notify is not null) Notify(notify, next, used, -1);
        _steps.Clear();
        _firstUse.Clear();
    }

    /// <summary>Orders this micro-batch's parameters by first use, latest first (the order their gradients become final).</summary>
    private int SortByFirstUse()
    {
        if (_byFirstUse.Length < _firstUse.Count) _byFirstUse = new (Parameter<T>, int)[_firstUse.Count];
        int n = 0;
        foreach (var (p, first) in _firstUse) _byFirstUse[n++] = (p, first);
        Array.Sort(_byFirstUse, 0, n, s_latestFirst);
        return n;
    }

    /// <summary>Hands over the parameters first used after step <paramref name="below"/> (every step that could touch them has run).</summary>
    private int Notify(Action<List<Parameter<T>>> notify, int next, int count, int below)
    {
        _final.Clear();
        while (next < count && _byFirstUse[next].FirstUse > below) _final.Add(_byFirstUse[next++].Parameter);
        if (_final.Count > 0) notify(_final);
        return next;
    }

    /// <summary>Forgets the recorded steps and returns every activation to the arena (end of a micro-batch).</summary>
    public void Reset()
    {
        _steps.Clear();
        _firstUse.Clear();
        _arena.ReturnAll();
    }

    public void Dispose()
    {
        _steps.Clear();
        _arena.Dispose();
        WeightOperands.Dispose();
    }
}
