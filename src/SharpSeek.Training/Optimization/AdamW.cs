using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using SharpSeek.Tensors.Threading;
using SharpSeek.Training.Autodiff;

namespace SharpSeek.Training.Optimization;

/// <summary>AdamW hyper-parameters; the defaults are DeepSeek-V3's (β2 = 0.95, weight decay 0.1).</summary>
public sealed record AdamWSettings(double Beta1 = 0.9, double Beta2 = 0.95, double Epsilon = 1e-8, double WeightDecay = 0.1);

/// <summary>
/// AdamW (Loshchilov &amp; Hutter) with decoupled weight decay, as PyTorch computes it:
/// <code>
///   p ← p·(1 − lr·wd)                    (matrices only; norms, embeddings and buffers are not decayed)
///   m ← β1·m + (1 − β1)·g,   v ← β2·v + (1 − β2)·g²
///   p ← p − lr · (m / (1 − β1^t)) / (√(v / (1 − β2^t)) + ε)
/// </code>
/// Moments are f32 (V3 keeps them in BF16; f32 costs memory we have and keeps resumption exact). Each element is
/// updated independently, so the split across threads cannot change a result.
/// </summary>
public sealed unsafe class AdamW : IDisposable
{
    private readonly List<(Parameter<float> P, nint M, nint V)> _state = [];

    public AdamW(IEnumerable<Parameter<float>> parameters, AdamWSettings settings)
    {
        Settings = settings;
        foreach (var p in parameters)
        {
            if (!p.Trainable) continue;
            nuint bytes = (nuint)(p.Length * sizeof(float));
            var m = NativeMemory.AlignedAlloc(bytes, 64);
            var v = NativeMemory.AlignedAlloc(bytes, 64);
            NativeMemory.Clear(m, bytes);
            NativeMemory.Clear(v, bytes);
            _state.Add((p, (nint)m, (nint)v));
        }
    }

    public AdamWSettings Settings { get; }
    /// <summary>Updates taken so far (t in the bias corrections).</summary>
    public long StepCount { get; set; }

    public IEnumerable<Parameter<float>> Parameters => _state.Select(s => s.P);

    /// <summary>First moment (running mean of gradients) of <paramref name="p"/>, for checkpoints.</summary>
    public Span<float> FirstMoment(Parameter<float> p) => new((void*)Find(p).M, (int)p.Length);

    /// <summary>Second moment (running mean of squared gradients) of <paramref name="p"/>, for checkpoints.</summary>
    public Span<float> SecondMoment(Parameter<float> p) => new((void*)Find(p).V, (int)p.Length);

    /// <summary>
    /// Takes <paramref name="source"/>'s moments and step count, parameter by parameter (matched by name): a copy of a
    /// model that should go on training exactly as the original would.
    /// </summary>
    public void CopyStateFrom(AdamW source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var theirs = source._state.ToDictionary(s => s.P.Name);
        foreach (var (p, m, v) in _state)
        {
            if (!theirs.TryGetValue(p.Name, out var s) || s.P.Length != p.Length)
                throw new ArgumentException($"'{p.Name}' has no optimizer state of the same size in the source", nameof(source));
            new Span<float>((void*)s.M, (int)p.Length).CopyTo(new Span<float>((void*)m, (int)p.Length));
            new Span<float>((void*)s.V, (int)p.Length).CopyTo(new Span<float>((void*)v, (int)p.Length));
        }
        StepCount = source.StepCount;
    }

    private (Parameter<float> P, nint M, nint V) Find(Parameter<float> p)
    {
        foreach (var s in _state)
            if (ReferenceEquals(s.P, p)) return s;
        throw new KeyNotFoundException($"'{p.Name}' has no optimizer state");
    }

    /// <summary>One update of every parameter from its accumulated gradient.</summary>
    public void Update(double learningRate, ComputePool pool)
    {
        StepCount++;
        var s = Settings;
        float b1 = (float)s.Beta1, b2 = (float)s.Beta2, eps = (float)s.Epsilon;
        float stepSize = (float)(learningRate / (1 - Math.Pow(s.Beta1, StepCount)));
        float invBc2 = (float)(1 / (1 - Math.Pow(s.Beta2, StepCount)));
        const int chunk = 16384;
        foreach (var (p, mPtr, vPtr) in _state)
        {
            float decay = p.Role == ParameterRole.Matrix ? (float)(1 - learningRate * s.WeightDecay) : 1f;
            float* w = p.Value, g = p.Grad, m = (float*)mPtr, v = (float*)vPtr;
            long n = p.Length;
            int chunks = (int)((n + chunk - 1) / chunk);
            ParallelRange.For(pool, chunks, 1, (start, end) =>
            {
                for (int c = start; c < end; c++)
                {
                    long i = (long)c * chunk, stop = Math.Min(n, i + chunk);
                    if (Vector512.IsHardwareAccelerated)
                    {
                        var vb1 = Vector512.Create(b1); var vb2 = Vector512.Create(b2);
                        var v1b1 = Vector512.Create(1 - b1); var v1b2 = Vector512.Create(1 - b2);
                        for (; i + 16 <= stop; i += 16)
                        {
                            var gi = Vector512.Load(g + i);
                            var mi = vb1 * Vector512.Load(m + i) + v1b1 * gi;
                            var vi = vb2 * Vector512.Load(v + i) + v1b2 * (gi * gi);
                            mi.Store(m + i);
                            vi.Store(v + i);
                            var wi = Vector512.Load(w + i) * Vector512.Create(decay);
                            (wi - Vector512.Create(stepSize) * mi / (Vector512.Sqrt(vi * Vector512.Create(invBc2)) + Vector512.Create(eps))).Store(w + i);
                        }
                    }
                    for (; i < stop; i++)
                    {
                        float gi = g[i];
                        float mi = b1 * m[i] + (1 - b1) * gi;
                        float vi = b2 * v[i] + (1 - b2) * (gi * gi);
                        m[i] = mi;
                        v[i] = vi;
                        w[i] = w[i] * decay - stepSize * mi / (MathF.Sqrt(vi * invBc2) + eps);
                    }
                }
            });
        }
    }

    public void Dispose()
    {
        foreach (var (_, m, v) in _state)
        {
            NativeMemory.AlignedFree((void*)m);
            NativeMemory.AlignedFree((void*)v);
        }
        _state.Clear();
    }
}
