namespace SharpSeek.Tensors.Kernels;

/// <summary>How a head's rotary dimensions are paired.</summary>
public enum RopeLayout
{
    /// <summary>Adjacent pairs (x[2i], x[2i+1]): DeepSeek's reference code, llama.cpp's "norm" mode (deepseek2, llama GGUF).</summary>
    Interleaved,
    /// <summary>Halves (x[i], x[i+d/2]): GPT-NeoX / HF Qwen2 layout, llama.cpp's "neox" mode.</summary>
    Halves,
}

/// <summary>RoPE scaling parameters. <see cref="Factor"/> = 1 means plain RoPE.</summary>
public sealed record RopeScaling(
    float Factor = 1f,
    int OriginalContext = 4096,
    float BetaFast = 32f,
    float BetaSlow = 1f,
    float Mscale = 1f,
    float MscaleAllDim = 0f)
{
    public bool IsYarn => Factor > 1f;

    /// <summary>YaRN's magnitude correction 0.1·m·ln(s) + 1 (1 when not extending).</summary>
    public static float YarnMscale(float factor, float m) => factor <= 1f ? 1f : 0.1f * m * MathF.Log(factor) + 1f;
}

/// <summary>
/// Precomputed rotary cos/sin per (position, pair). YaRN keeps high-frequency pairs, interpolates low-frequency ones by
/// 1/factor, with a linear ramp in between; the cos/sin carry the magnitude factor mscale(factor, mscale)/mscale(factor, mscale_all_dim)
/// as in DeepSeek's reference, which is 1 for V3's config (mscale = mscale_all_dim = 1).
/// Explicit per-pair frequency factors (llama3 scaling, llama.cpp's <c>rope_freqs.weight</c>) divide the base frequency
/// θ^(-2i/d) of pair i before any YaRN interpolation, as llama.cpp's rope does.
/// </summary>
public sealed class RopeTable
{
    private readonly float[] _cos, _sin;
    public int Dims { get; }
    public int MaxPositions { get; }
    public RopeLayout Layout { get; }

    /// <param name="frequencyFactors">Empty for none, else one positive divisor per rotary pair (<paramref name="dims"/>/2).</param>
    public RopeTable(int dims, int maxPositions, float theta, RopeScaling? scaling = null, RopeLayout layout = RopeLayout.Interleaved,
        ReadOnlySpan<float> frequencyFactors = default)
    {
        if (dims <= 0 || dims % 2 != 0) throw new ArgumentException($"RoPE needs a positive even dimension count, got {dims}");
        if (maxPositions <= 0) throw new ArgumentException($"RoPE needs at least one position, got {maxPositions}");
        int half = dims / 2;
        if (!frequencyFactors.IsEmpty && frequencyFactors.Length != half)
            throw new ArgumentException($"RoPE frequency factors: got {frequencyFactors.Length}, expected one per rotary pair ({half})", nameof(frequencyFactors));
        foreach (float f in frequencyFactors)
            if (!(f > 0) || !float.IsFinite(f))
                throw new ArgumentException($"RoPE frequency factors must be positive finite numbers, got {f}", nameof(frequencyFactors));
        Dims = dims;
        MaxPositions = maxPositions;
        Layout = layout;
        var freq = new double[half];
        for (int i = 0; i < half; i++) freq[i] = Math.Pow(theta, -2.0 * i / dims);
        if (!frequencyFactors.IsEmpty)
            for (int i = 0; i < half; i++) freq[i] /= frequencyFactors[i];
        double magnitude = 1.0;
        if (scaling is { IsYarn: true } y)
        {
            // Dimension index whose wavelength completes `rotations` turns within the original context.
            double CorrDim(double rotations) => dims * Math.Log(y.OriginalContext / (rotations * 2 * Math.PI)) / (2 * Math.Log(theta));
            double low = Math.Max(Math.Floor(CorrDim(y.BetaFast)), 0);
            double high = Math.Min(Math.Ceiling(CorrDim(y.BetaSlow)), dims - 1);
            if (low == high) high += 0.001;
            for (int i = 0; i < half; i++)
            {
                double ramp = Math.Clamp((i - low) / (high - low), 0, 1);
                double keep = 1 - ramp; // 1 = keep extrapolated (high-frequency), 0 = fully interpolated
                freq[i] = freq[i] / y.Factor * (1 - keep) + freq[i] * keep;
            }
            magnitude = RopeScaling.YarnMscale(y.Factor, y.Mscale) / RopeScaling.YarnMscale(y.Factor, y.MscaleAllDim);
        }
        _cos = new float[(long)maxPositions * half > int.MaxValue ? throw new ArgumentException("RoPE table too large") : maxPositions * half];
        _sin = new float[maxPositions * half];
        for (int p = 0; p < maxPositions; p++)
            for (int i = 0; i < half; i++)
            {
                double a = p * freq[i];
                _cos[p * half + i] = (float)(Math.Cos(a) * magnitude);
                _sin[p * half + i] = (float)(Math.Sin(a) * magnitude);
            }
    }

    /// <summary>Rotates one head vector of <see cref="Dims"/> elements in place for <paramref name="position"/>.</summary>
    public void Apply(Span<float> x, int position)
    {
        if (x.Length != Dims) throw new ArgumentException($"RoPE: head has {x.Length} dims, table has {Dims}");
        if ((uint)position >= (uint)MaxPositions) throw new ArgumentOutOfRangeException(nameof(position), position, $"RoPE table covers positions [0, {MaxPositions})");
        int half = Dims / 2;
        var c = _cos.AsSpan(position * half, half);
        var s = _sin.AsSpan(position * half, half);
        if (Layout == RopeLayout.Interleaved)
        {
            for (int i = 0; i < half; i++)
            {
                float a = x[2 * i], b = x[2 * i + 1];
                x[2 * i] = a * c[i] - b * s[i];
                x[2 * i + 1] = a * s[i] + b * c[i];
            }
        }
        else
        {
            for (int i = 0; i < half; i++)
            {
                float a = x[i], b = x[i + half];
                x[i] = a * c[i] - b * s[i];
                x[i + half] = a * s[i] + b * c[i];
            }
        }
    }

    /// <summary>Rotates <paramref name="heads"/> consecutive heads (each at <paramref name="stride"/> with the rotary part at <paramref name="offset"/>).</summary>
    public void ApplyHeads(Span<float> x, int heads, int stride, int offset, int position)
    {
        for (int h = 0; h < heads; h++) Apply(x.Slice(h * stride + offset, Dims), position);
    }
}
