using System.Numerics;
using SharpSeek.Model;
using SharpSeek.Tensors.Kernels;

namespace SharpSeek.Training.Ops;

/// <summary>
/// cos/sin per (position, rotary pair) for the interleaved RoPE that DeepSeek uses, YaRN included. The angles come
/// from the inference engine's <see cref="RopeTable"/> (rotating unit pairs reads them back), so training and
/// inference rotate by exactly the same numbers and share one implementation of YaRN's frequency ramp.
/// </summary>
public sealed class RotaryTable<T> where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public RotaryTable(ModelConfig config, int maxPositions)
    {
        Dims = config.QkRopeHeadDim;
        MaxPositions = maxPositions;
        var scaling = config.RopeScaling?.ToYarn();
        if (config.RopeScaling is { IsYarn: false }) throw new NotSupportedException($"RoPE scaling '{config.RopeScaling.Type}' is not a DeepSeek scaling");
        var table = new RopeTable(Dims, maxPositions, (float)config.RopeTheta, scaling, RopeLayout.Interleaved);
        int half = Dims / 2;
        Cos = new T[maxPositions * half];
        Sin = new T[maxPositions * half];
        var unit = new float[Dims];
        for (int p = 0; p < maxPositions; p++)
        {
            for (int i = 0; i < half; i++) { unit[2 * i] = 1f; unit[2 * i + 1] = 0f; }
            table.Apply(unit, p);
            for (int i = 0; i < half; i++)
            {
                Cos[p * half + i] = T.CreateTruncating(unit[2 * i]);
                Sin[p * half + i] = T.CreateTruncating(unit[2 * i + 1]);
            }
        }
    }

    /// <summary>Rotary dimensions per head (qk_rope_head_dim).</summary>
    public int Dims { get; }
    public int MaxPositions { get; }
    /// <summary>[position, pair] row-major.</summary>
    public T[] Cos { get; }
    public T[] Sin { get; }
}
