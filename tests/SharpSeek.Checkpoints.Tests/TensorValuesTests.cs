using SharpSeek.Model;

namespace SharpSeek.Checkpoints.Tests;

/// <summary>The value transforms converters rely on are exact and invertible.</summary>
public sealed class TensorValuesTests
{
    [Fact]
    public void MlaUpProjectionSplitsAndFusesExactly()
    {
        int nh = 3, dn = 4, dv = 5, r = 6;
        var fused = new RandomTensorValues(1, "kv_b", [nh * (dn + dv), r], TensorInit.Uniform(0, 1));
        float[] kvb = fused.ReadAll();
        var keys = MlaUpProjection.KeysFromFused(fused, nh, dn, dv);
        var values = MlaUpProjection.ValuesFromFused(fused, nh, dn, dv);
        float[] kb = keys.ReadAll(), vb = values.ReadAll();
        for (int h = 0; h < nh; h++)
        {
            for (int i = 0; i < dn; i++)
                for (int j = 0; j < r; j++) Assert.Equal(kvb[(h * (dn + dv) + i) * r + j], kb[(h * r + j) * dn + i]); // W_kb[h]ᵀ
            for (int i = 0; i < dv; i++)
                for (int j = 0; j < r; j++) Assert.Equal(kvb[(h * (dn + dv) + dn + i) * r + j], vb[(h * dv + i) * r + j]);
        }
        Assert.Equal(kvb, MlaUpProjection.FusedFromSplit(keys, values).ReadAll());
    }

    [Fact]
    public void RotaryPairingInvertsAndInterleavesHalves()
    {
        int heads = 2, d = 8, cols = 3;
        var hf = new RandomTensorValues(2, "q", [heads * d, cols], TensorInit.Uniform(0, 1));
        var gguf = RotaryPairing.HalvesToInterleaved(hf, heads);
        float[] a = hf.ReadAll(), b = gguf.ReadAll();
        // GGUF row 2i + j of a head is HF row j·d/2 + i.
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < d / 2; i++)
                for (int j = 0; j < 2; j++)
                    Assert.Equal(a.AsSpan((h * d + j * d / 2 + i) * cols, cols).ToArray(), b.AsSpan((h * d + 2 * i + j) * cols, cols).ToArray());
        Assert.Equal(a, RotaryPairing.InterleavedToHalves(gguf, heads).ReadAll());
        var bias = new RandomTensorValues(3, "b", [heads * d], TensorInit.Uniform(0, 1));
        Assert.Equal(bias.ReadAll(), RotaryPairing.InterleavedToHalves(RotaryPairing.HalvesToInterleaved(bias, heads), heads).ReadAll());
    }

    [Fact]
    public void RandomValuesDependOnSeedAndNameOnlyAndAreScaled()
    {
        var a = new RandomTensorValues(7, "w", [100, 64], TensorInit.Uniform(0, 0.5f));
        float[] all = a.ReadAll();
        var rows = new float[10 * 64];
        a.ReadRows(40, 10, rows);
        Assert.Equal(all.AsSpan(40 * 64, 640).ToArray(), rows); // any row range, any order
        Assert.Equal(all, new RandomTensorValues(7, "w", [100, 64], TensorInit.Uniform(0, 0.5f)).ReadAll());
        Assert.NotEqual(all, new RandomTensorValues(8, "w", [100, 64], TensorInit.Uniform(0, 0.5f)).ReadAll());
        Assert.NotEqual(all, new RandomTensorValues(7, "v", [100, 64], TensorInit.Uniform(0, 0.5f)).ReadAll());
        Assert.All(all, x => Assert.InRange(x, -0.5f, 0.5f));
        double mean = all.Average(x => (double)x), variance = all.Average(x => (double)x * x);
        Assert.InRange(mean, -0.02, 0.02);
        Assert.InRange(variance, 0.25 / 3 * 0.9, 0.25 / 3 * 1.1); // uniform(−a, a) has variance a²/3
    }

    /// <summary>
    /// The training initialisation is one Gaussian stream per tensor; reading a range of rows jumps into that stream,
    /// so a tensor generated row by row (a random checkpoint) equals one filled whole (a training model).
    /// </summary>
    [Fact]
    public void Gaussian_values_read_by_rows_equal_the_whole_stream()
    {
        var init = TensorInit.Gaussian(0.25);
        var values = new RandomTensorValues(5, "w", [50, 40], init);
        var whole = new float[50 * 40];
        init.Fill(5, "w", 0, whole.AsSpan());
        var rng = new SharpSeek.Tensors.DeterministicRandom(SharpSeek.Tensors.DeterministicRandom.SeedFor(5, "w"));
        for (int i = 0; i < 10; i++) Assert.Equal((float)(rng.NextGaussian() * 0.25), whole[i]);
        var rows = new float[7 * 40];
        values.ReadRows(31, 7, rows);
        Assert.Equal(whole.AsSpan(31 * 40, 7 * 40).ToArray(), rows);
        double variance = whole.Average(x => (double)x * x);
        Assert.InRange(variance, 0.0625 * 0.9, 0.0625 * 1.1);
        var ones = new double[3];
        TensorInit.Constant(1).Fill(5, "n", 0, ones.AsSpan());
        Assert.Equal([1.0, 1.0, 1.0], ones);
    }

    [Fact]
    public void StackedAndSlicedExpertsAreTheSameValues()
    {
        var parts = Enumerable.Range(0, 4).Select(e => (TensorValues)new RandomTensorValues(1, $"e{e}", [6, 32], TensorInit.Uniform(0, 1))).ToArray();
        var stacked = new StackedTensorValues(parts);
        Assert.Equal([4, 6, 32], stacked.Shape);
        Assert.Equal(parts.SelectMany(p => p.ReadAll()).ToArray(), stacked.ReadAll());
        for (int e = 0; e < 4; e++) Assert.Equal(parts[e].ReadAll(), new SlicedTensorValues(stacked, e).ReadAll());
    }
}
