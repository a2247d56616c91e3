namespace SharpSeek.Model;

/// <summary>
/// Per-pair RoPE frequency divisors (original frequency / scaled frequency, one per rotary pair): the form in which
/// <see cref="SharpSeek.Tensors.Kernels.RopeTable"/> takes llama3 scaling and llama.cpp stores it (<c>rope_freqs.weight</c>).
/// </summary>
public static class RopeFrequencyFactors
{
    /// <summary>
    /// The divisors <paramref name="config"/>'s RoPE applies: its explicit factors when it carries them, those of
    /// <see cref="Llama3"/> for llama3 scaling, null when the base frequencies are used as they are (none, or YaRN).
    /// </summary>
    public static float[]? Of(ModelConfig config)
    {
        if (config.RopeScaling is not { IsLlama3: true } rs) return null;
        if (rs.FrequencyFactors is { } stored) return [.. stored];
        return Array.ConvertAll(Llama3(config.RopeDims, config.RopeTheta, rs.Factor, rs.LowFreqFactor, rs.HighFreqFactor, rs.OriginalMaxPositionEmbeddings), f => (float)f);
    }

    /// <summary>
    /// Llama 3.1's frequency scaling as divisors of θ^(-2i/d). Pairs whose wavelength is shorter than
    /// originalContext/highFreqFactor keep their frequency (they turn many times within the trained context); pairs
    /// longer than originalContext/lowFreqFactor are slowed by <paramref name="factor"/>; in between the new frequency
    /// blends freq/factor and freq linearly in originalContext/wavelength.
    /// </summary>
    public static double[] Llama3(int dims, double theta, double factor, double lowFreqFactor, double highFreqFactor, int originalContext)
    {
        if (dims <= 0 || dims % 2 != 0) throw new ArgumentOutOfRangeException(nameof(dims), dims, "RoPE needs a positive even dimension count");
        if (!(factor >= 1)) throw new ArgumentOutOfRangeException(nameof(factor), factor, "llama3 scaling needs factor >= 1");
        if (!(highFreqFactor > lowFreqFactor && lowFreqFactor > 0))
            throw new ArgumentOutOfRangeException(nameof(highFreqFactor), highFreqFactor, $"llama3 scaling needs high_freq_factor > low_freq_factor ({lowFreqFactor}) > 0");
        if (originalContext <= 0) throw new ArgumentOutOfRangeException(nameof(originalContext), originalContext, "must be positive");
        double lowFreqWavelength = originalContext / lowFreqFactor;
        double highFreqWavelength = originalContext / highFreqFactor;
        var divisors = new double[dims / 2];
        for (int i = 0; i < divisors.Length; i++)
        {
            double freq = Math.Pow(theta, -2.0 * i / dims);
            double wavelength = 2 * Math.PI / freq;
            if (wavelength < highFreqWavelength) divisors[i] = 1;
            else if (wavelength > lowFreqWavelength) divisors[i] = factor;
            else
            {
                double smooth = (originalContext / wavelength - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
                // new = (1 − smooth)·freq/factor + smooth·freq, so freq/new is the reciprocal of the blend weight.
                divisors[i] = 1 / ((1 - smooth) / factor + smooth);
            }
        }
        return divisors;
    }
}
