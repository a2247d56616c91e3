namespace SharpSeek.Tensors;

/// <summary>
/// SplitMix64: a tiny generator whose sequence is fixed by its algorithm (System.Random's seeded sequence is not
/// promised across .NET versions). Initialization and data shuffling use it, so a seed means the same run anywhere.
/// </summary>
public struct DeterministicRandom(ulong seed)
{
    private ulong _state = seed;

    public ulong State => _state;

    /// <summary>
    /// The generator <paramref name="draws"/> 64-bit draws after <paramref name="seed"/>'s start: SplitMix64's state
    /// only adds a constant per draw, so any position of a stream is reached in O(1). Lets a reader produce rows
    /// [a, b) of a tensor initialised as one long stream without drawing rows [0, a).
    /// </summary>
    public static DeterministicRandom At(ulong seed, ulong draws) => new(unchecked(seed + draws * Gamma));

    private const ulong Gamma = 0x9E3779B97F4A7C15UL;

    public ulong NextUInt64()
    {
        ulong z = _state += Gamma;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, bound) (bound ≤ 2^31), without modulo bias worth caring about at these sizes.</summary>
    public int NextInt(int bound) => (int)((NextUInt64() >> 33) * (ulong)bound >> 31);

    /// <summary>Standard normal by Box–Muller (one of the pair; simple beats fast here).</summary>
    public double NextGaussian()
    {
        double u1 = 1.0 - NextDouble(), u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>A seed derived from a base seed and a name (FNV-1a of the name mixed in), stable across processes.</summary>
    public static ulong SeedFor(ulong seed, string name)
    {
        ulong hash = 14695981039346656037UL;
        foreach (char c in name) hash = (hash ^ c) * 1099511628211UL;
        var r = new DeterministicRandom(seed ^ hash);
        return r.NextUInt64();
    }
}
