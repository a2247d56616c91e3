using System.Globalization;
using System.Text;

namespace SharpSeek.Checkpoints.Tests;

/// <summary>How far two engines' logits are apart, per position, measured relative to each row's largest magnitude.</summary>
internal sealed class LogitsComparison
{
    public double MaxAbsolute { get; private set; }
    /// <summary>max over positions of max|a − b| / max|b| in that row.</summary>
    public double MaxRelative { get; private set; }
    public List<int> ArgmaxMismatches { get; } = [];
    public int Positions { get; private set; }
    private readonly StringBuilder _worst = new();

    public static LogitsComparison Of(float[] ours, float[][] reference)
    {
        var c = new LogitsComparison { Positions = reference.Length };
        int v = reference[0].Length;
        Assert.Equal(reference.Length * v, ours.Length);
        double worst = -1;
        for (int p = 0; p < reference.Length; p++)
        {
            var row = reference[p];
            double scale = 0, diff = 0;
            int a = 0, b = 0;
            for (int i = 0; i < v; i++)
            {
                float o = ours[p * v + i];
                scale = Math.Max(scale, Math.Abs(row[i]));
                diff = Math.Max(diff, Math.Abs(o - row[i]));
                if (o > ours[p * v + a]) a = i;
                if (row[i] > row[b]) b = i;
            }
            double rel = diff / Math.Max(scale, 1e-30);
            c.MaxAbsolute = Math.Max(c.MaxAbsolute, diff);
            c.MaxRelative = Math.Max(c.MaxRelative, rel);
            if (a != b) c.ArgmaxMismatches.Add(p);
            if (rel > worst)
            {
                worst = rel;
                c._worst.Clear().Append(CultureInfo.InvariantCulture, $"worst position {p}: max |Δ| {diff:E2} of row max {scale:F3}; ours argmax {a}, reference {b}");
            }
        }
        return c;
    }

    public void AssertWithin(double relativeTolerance, string what)
    {
        Assert.True(MaxRelative <= relativeTolerance && ArgmaxMismatches.Count == 0,
            $"{what}: max relative difference {MaxRelative:E2} (tolerance {relativeTolerance:E1}), max absolute {MaxAbsolute:E2}, " +
            $"argmax differs at {ArgmaxMismatches.Count} of {Positions} positions [{string.Join(", ", ArgmaxMismatches)}]; {_worst}");
    }

    public override string ToString() => $"max rel {MaxRelative:E2}, max abs {MaxAbsolute:E2}, argmax mismatches {ArgmaxMismatches.Count}/{Positions}";
}
