using System.Numerics.Tensors;

namespace SharpSeek.Tensors.Kernels;

/// <summary>Sampling settings for one request. Temperature 0 means greedy (arg-max).</summary>
public readonly record struct SamplingOptions(float Temperature = 1f, int TopK = 0, float TopP = 1f, ulong Seed = 0)
{
    /// <summary>Plain sampling at temperature 1 (a struct's default would otherwise zero top_p).</summary>
    public SamplingOptions() : this(1f, 0, 1f, 0) { }

    public void Validate()
    {
        if (!(Temperature >= 0) || float.IsInfinity(Temperature)) throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "temperature must be a finite number ≥ 0");
        if (TopK < 0) throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "top_k must be ≥ 0 (0 = off)");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentOutOfRangeException(nameof(TopP), TopP, "top_p must be in (0, 1]");
    }
}

/// <summary>
/// Draws the next token from a logit row: temperature, then top-k, then top-p (nucleus), then a categorical draw.
/// One sampler per sequence; its scratch is sized to the vocabulary once, so sampling a token allocates nothing.
/// </summary>
public sealed class Sampler
{
    private readonly float[] _probs;
    private readonly int[] _order;
    private readonly float[] _orderProbs;
    private DeterministicRandom _rng;
    public SamplingOptions Options { get; }

    public Sampler(int vocabSize, SamplingOptions options)
    {
        if (vocabSize <= 0) throw new ArgumentOutOfRangeException(nameof(vocabSize), vocabSize, "vocabulary must be non-empty");
        options.Validate();
        Options = options;
        _probs = new float[vocabSize];
        _order = new int[vocabSize];
        _orderProbs = new float[vocabSize];
        // SplitMix64 from the seed: the same seed draws the same sequence on every .NET version and machine.
        _rng = new DeterministicRandom(options.Seed);
    }

    public int Sample(ReadOnlySpan<float> logits) => Sample(logits, _rng.NextDouble());

    /// <summary>Deterministic core: <paramref name="uniform"/> in [0, 1) picks from the kept distribution.</summary>
    public int Sample(ReadOnlySpan<float> logits, double uniform)
    {
        if (logits.Length != _probs.Length) throw new ArgumentException($"sampler built for {_probs.Length} logits, got {logits.Length}");
        if (Options.Temperature == 0f) return Selection.Argmax(logits);

        var probs = _probs.AsSpan();
        TensorPrimitives.Multiply(logits, 1f / Options.Temperature, probs);
        Activations.Softmax(probs);

        // Candidates in descending probability. With top-k only k need ordering; with top-p alone a growing prefix
        // (64, 1024, ... entries) is ordered until it holds top_p of the mass, so a 129K vocabulary is rarely sorted.
        if (Options.TopK == 0 && Options.TopP >= 1f)
        {
            // Nothing is cut: draw straight from the full distribution in index order, no ordering needed.
            double u = uniform, run = 0;
            for (int i = 0; i < probs.Length; i++) { run += probs[i]; if (u < run) return i; }
            return Selection.Argmax(probs);
        }

        int limit = Options.TopK > 0 ? Math.Min(Options.TopK, probs.Length) : probs.Length;
        int ordered = Math.Min(limit, 64);
        var idx = _order.AsSpan(0, ordered);
        Selection.TopK(probs, idx);
        float kept = 0;
        int cut = 0;
        while (cut < ordered && kept < Options.TopP) kept += probs[idx[cut++]];
        if (kept < Options.TopP && ordered < limit)
        {
            // The 64 most likely tokens hold less than top_p: order everything (O(V log V), a few ms at 129K).
            var keys = _orderProbs.AsSpan();
            for (int i = 0; i < probs.Length; i++) { _order[i] = i; keys[i] = -probs[i]; }
            keys.Sort(_order.AsSpan());
            ordered = limit;
            kept = 0;
            cut = 0;
            while (cut < ordered && kept < Options.TopP) kept += probs[_order[cut++]];
        }
        ordered = cut;

        double target = uniform * kept, acc = 0;
        for (int i = 0; i < ordered; i++)
        {
            acc += probs[_order[i]];
            if (target < acc) return _order[i];
        }
        return _order[ordered - 1];
    }
}
