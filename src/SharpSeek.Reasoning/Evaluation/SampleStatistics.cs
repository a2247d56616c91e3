using SharpSeek.Tensors;

namespace SharpSeek.Reasoning.Evaluation;

/// <summary>
/// pass@k from one set of samples. With n samples of a problem of which c are correct, the chance that k of them drawn
/// without replacement include a correct one is 1 − C(n−c, k)/C(n, k); averaged over problems it is an unbiased
/// estimate of pass@k for every k ≤ n (drawing k fresh samples per k would only add noise). Computed as
/// 1 − Π_{i=n−c+1}^{n} (1 − k/i), which never forms a large binomial.
/// </summary>
public static class PassAtK
{
    public static double Estimate(int samples, int correct, int k)
    {
        if (samples <= 0 || correct < 0 || correct > samples) throw new ArgumentOutOfRangeException(nameof(correct), $"{correct} correct of {samples} samples");
        if (k < 1 || k > samples) throw new ArgumentOutOfRangeException(nameof(k), $"k = {k} needs 1 ≤ k ≤ {samples} samples");
        if (samples - correct < k) return 1; // every draw of k holds a correct one
        double allWrong = 1;
        for (int i = samples - correct + 1; i <= samples; i++) allWrong *= 1 - (double)k / i;
        return 1 - allWrong;
    }

    /// <summary>pass@k for k = 1 … <paramref name="maxK"/>, averaged over problems (each with its sample and correct counts).</summary>
    public static double[] Curve(IReadOnlyList<(int Samples, int Correct)> problems, int maxK)
    {
        if (problems.Count == 0) throw new ArgumentException("no problems");
        var curve = new double[maxK];
        foreach (var (n, c) in problems)
            for (int k = 1; k <= maxK; k++) curve[k - 1] += Estimate(n, c, k) / problems.Count;
        return curve;
    }
}

/// <summary>A difference of two means and its confidence interval.</summary>
public readonly record struct DifferenceInterval(double Difference, double Low, double High, double Confidence);

/// <summary>
/// Paired bootstrap: two systems scored on the same items (problems, or seeds × problems); the items are resampled with
/// replacement, the same draw for both, and the spread of the resampled mean differences gives the interval
/// (percentile method). Pairing removes the items' own difficulty from the noise, which is what makes a few points of
/// improvement on a few hundred problems measurable. Deterministic for a seed.
/// </summary>
public static class PairedBootstrap
{
    public static DifferenceInterval MeanDifference(ReadOnlySpan<double> after, ReadOnlySpan<double> before, int resamples = 10_000, ulong seed = 1, double confidence = 0.95)
    {
        if (after.Length != before.Length) throw new ArgumentException($"paired scores need the same items: {after.Length} vs {before.Length}");
        if (after.Length == 0) throw new ArgumentException("no items to compare");
        if (resamples < 100) throw new ArgumentOutOfRangeException(nameof(resamples), resamples, "at least 100 resamples");
        if (!(confidence > 0 && confidence < 1)) throw new ArgumentOutOfRangeException(nameof(confidence), confidence, "confidence must be in (0, 1)");
        int n = after.Length;
        var diff = new double[n];
        double mean = 0;
        for (int i = 0; i < n; i++) mean += (diff[i] = after[i] - before[i]) / n;
        var rng = new DeterministicRandom(seed);
        var means = new double[resamples];
        for (int r = 0; r < resamples; r++)
        {
            double sum = 0;
            for (int i = 0; i < n; i++) sum += diff[rng.NextInt(n)];
            means[r] = sum / n;
        }
        Array.Sort(means);
        double tail = (1 - confidence) / 2;
        return new DifferenceInterval(mean, Quantile(means, tail), Quantile(means, 1 - tail), confidence);
    }

    /// <summary>
    /// Paired bootstrap over seeds × problems: <paramref name="after"/>[s][i] and <paramref name="before"/>[s][i] score
    /// problem i in seed s (the same problems in every seed, seed s of "after" trained from seed s of "before"). Each
    /// resample draws the seeds and the problems with replacement, independently (a crossed design: the problems are
    /// shared by the seeds), so the interval covers the spread between training runs as well as between problems. With
    /// one seed it is <see cref="MeanDifference(ReadOnlySpan{double}, ReadOnlySpan{double}, int, ulong, double)"/>.
    /// </summary>
    public static DifferenceInterval MeanDifference(IReadOnlyList<double[]> after, IReadOnlyList<double[]> before, int resamples = 10_000, ulong seed = 1, double confidence = 0.95)
    {
        if (after.Count != before.Count || after.Count == 0) throw new ArgumentException($"paired scores need the same seeds: {after.Count} vs {before.Count}");
        if (after.Count == 1) return MeanDifference(after[0], before[0], resamples, seed, confidence);
        if (resamples < 100) throw new ArgumentOutOfRangeException(nameof(resamples), resamples, "at least 100 resamples");
        if (!(confidence > 0 && confidence < 1)) throw new ArgumentOutOfRangeException(nameof(confidence), confidence, "confidence must be in (0, 1)");
        int seeds = after.Count, n = after[0].Length;
        if (n == 0) throw new ArgumentException("no items to compare");
        var diff = new double[seeds][];
        double mean = 0;
        for (int s = 0; s < seeds; s++)
        {
            if (after[s].Length != n || before[s].Length != n) throw new ArgumentException($"every seed needs the same {n} items; seed {s} has {after[s].Length} and {before[s].Length}");
            diff[s] = new double[n];
            for (int i = 0; i < n; i++) mean += (diff[s][i] = after[s][i] - before[s][i]) / ((double)n * seeds);
        }
        var rng = new DeterministicRandom(seed);
        var means = new double[resamples];
        var drawnSeeds = new int[seeds];
        var drawnItems = new int[n];
        for (int r = 0; r < resamples; r++)
        {
            for (int s = 0; s < seeds; s++) drawnSeeds[s] = rng.NextInt(seeds);
            for (int i = 0; i < n; i++) drawnItems[i] = rng.NextInt(n);
            double sum = 0;
            foreach (int s in drawnSeeds)
                foreach (int i in drawnItems) sum += diff[s][i];
            means[r] = sum / ((double)n * seeds);
        }
        Array.Sort(means);
        double tail = (1 - confidence) / 2;
        return new DifferenceInterval(mean, Quantile(means, tail), Quantile(means, 1 - tail), confidence);
    }

    /// <summary>Linear interpolation between order statistics of a sorted sample.</summary>
    private static double Quantile(double[] sorted, double q)
    {
        double at = q * (sorted.Length - 1);
        int lo = (int)Math.Floor(at), hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
    }
}
