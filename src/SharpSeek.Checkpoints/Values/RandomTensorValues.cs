namespace SharpSeek.Checkpoints;

/// <summary>
/// Seeded uniform values <c>center + amplitude·U(−1, 1)</c>. Every row has its own generator seeded by (seed, tensor
/// name, row), so any range of rows comes out the same whichever order or thread reads it, and a tensor's values do
/// not depend on which other tensors a file holds.
/// </summary>
public sealed class RandomTensorValues : TensorValues
{
    private readonly ulong _tensorSeed;

    public float Center { get; }
    public float Amplitude { get; }

    public RandomTensorValues(ulong seed, string name, int[] shape, float center, float amplitude) : base(shape)
    {
        _tensorSeed = Mix(seed ^ Mix(StableHash(name)));
        Center = center;
        Amplitude = amplitude;
    }

    protected override void Read(long firstRow, int count, Span<float> destination)
    {
        int cols = Cols;
        for (int t = 0; t < count; t++)
        {
            ulong state = Mix(_tensorSeed + (ulong)(firstRow + t) * 0x9E3779B97F4A7C15UL);
            var row = destination.Slice(t * cols, cols);
            for (int i = 0; i < row.Length; i++)
            {
                state += 0x9E3779B97F4A7C15UL;
                ulong z = Mix(state);
                // 24 random bits → [0, 1) → [−1, 1)
                float u = (z >> 40) * (1f / (1 << 24)) * 2f - 1f;
                row[i] = Center + Amplitude * u;
            }
        }
    }

    /// <summary>SplitMix64's finaliser: a bijective 64-bit mix.</summary>
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    // FNV-1a 64: string.GetHashCode differs between processes, and seeds must not.
    private static ulong StableHash(string s)
    {
        ulong hash = 14695981039346656037UL;
        foreach (char ch in s) hash = (hash ^ ch) * 1099511628211UL;
        return hash;
    }
}
