using SharpSeek.Model;

namespace SharpSeek.Model.Tests;

/// <summary>Small helpers the forward-pass tests share: seeded token streams, running a session, comparing logits.</summary>
internal static class ModelRunner
{
    public static int[] Tokens(int count, int vocab, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => rng.Next(vocab)).ToArray();
    }

    /// <summary>All-position logits [T·vocab] and final hidden states [T·hidden] from one session.</summary>
    public static (float[] Logits, float[] Hidden) Run(LanguageModel model, int[] tokens, int maxBatch = 64)
    {
        var c = model.Config;
        using var session = model.CreateSession(tokens.Length + 8, maxBatch);
        var logits = new float[tokens.Length * c.VocabSize];
        var hidden = new float[tokens.Length * c.HiddenSize];
        session.Forward(tokens, logits, LogitsFor.AllPositions, hidden);
        return (logits, hidden);
    }

    public static double MaxAbsDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(a.Length, b.Length);
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }

    public static double MaxAbsDiff(ReadOnlySpan<float> a, double[][] rows)
    {
        int w = rows[0].Length;
        Assert.Equal(rows.Length * w, a.Length);
        double m = 0;
        for (int t = 0; t < rows.Length; t++)
            for (int i = 0; i < w; i++) m = Math.Max(m, Math.Abs(a[t * w + i] - rows[t][i]));
        return m;
    }

    public static double MaxAbs(double[][] rows) => rows.Max(r => r.Max(Math.Abs));
}
