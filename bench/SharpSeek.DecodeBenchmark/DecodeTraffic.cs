using SharpSeek.Checkpoints;
using SharpSeek.Model;

namespace SharpSeek.DecodeBenchmark;

/// <summary>
/// Bytes a decode step must read: every weight once, except the embedding (one row), the routed experts (a token uses
/// top-k of the n experts of each MoE layer, so k/n of their bytes) and the MTP layers (not run when decoding plainly).
/// Dividing by the step time gives the achieved read bandwidth, which decode is bound by.
/// </summary>
internal static class DecodeTraffic
{
    public static long WeightBytesPerToken(Checkpoint checkpoint)
    {
        var c = checkpoint.Config;
        double total = 0;
        foreach (string name in checkpoint.Weights.Names)
        {
            var t = checkpoint.Weights[name];
            double bytes = t.ByteLength + (t.BlockScales?.ByteLength ?? 0);
            if (name == WeightNames.Embedding) bytes /= c.VocabSize;
            else if (name.Contains(".mlp.experts.", StringComparison.Ordinal)) bytes *= (double)c.NumExpertsPerTok / c.NRoutedExperts;
            else if (IsMtp(name, c)) bytes = 0;
            total += bytes;
        }
        return (long)total;
    }

    private static bool IsMtp(string name, ModelConfig c)
    {
        for (int k = 0; k < c.NumNextnPredictLayers; k++)
            if (name.StartsWith($"model.layers.{c.NumHiddenLayers + k}.", StringComparison.Ordinal)) return true;
        return false;
    }
}
