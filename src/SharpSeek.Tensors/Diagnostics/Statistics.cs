namespace SharpSeek.Tensors.Diagnostics;

/// <summary>Summaries of repeated measurements (timings, rates) shared by `train`'s MFU and the benchmarks.</summary>
public static class Statistics
{
    /// <summary>The median (mean of the middle two for an even count); NaN for no samples.</summary>
    public static double Median(IEnumerable<double> samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        double[] s = samples.ToArray();
        if (s.Length == 0) return double.NaN;
        Array.Sort(s);
        return s.Length % 2 == 1 ? s[s.Length / 2] : 0.5 * (s[s.Length / 2 - 1] + s[s.Length / 2]);
    }
}
