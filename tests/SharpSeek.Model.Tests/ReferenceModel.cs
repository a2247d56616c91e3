using SharpSeek.Model;
using SharpSeek.Tensors;
using SharpSeek.Tensors.Quantization;

namespace SharpSeek.Model.Tests;

/// <summary>
/// A plain float64 forward pass written from the DeepSeek-V2/V3 papers (and HF's config semantics), sharing no code with the
/// optimised path: no cache, no kernels, no backend — every position recomputes attention over the whole prefix with
/// the naive MLA form. Tensor names are spelled out here rather than taken from <see cref="WeightNames"/>, so the
/// naming contract is checked too.
/// </summary>
/// <remarks>
/// Two roundings of the optimised path are part of what it computes, not errors, so the reference can apply them too
/// (written here from the formats' definitions, not with the kernels): a Q8_0 matmul quantises each activation row to
/// 8 bits per 32-block with an fp16 block scale (llama.cpp's block_q8_0), and a half-precision KV cache stores keys and
/// values in F16 or BF16. With them applied the two paths differ only by float32 arithmetic, so a top-k expert choice
/// cannot flip on a rounding difference and the tolerances stay tight.
/// </remarks>
internal sealed class ReferenceModel
{
    private readonly ModelConfig _c;
    private readonly ModelWeights _w;
    private readonly Dictionary<string, double[]> _values = [];

    private readonly DType _kvType;
    private readonly AttentionMode _mode;

    /// <param name="kvType">The KV cache type whose rounding to apply.</param>
    /// <param name="mode">Which MLA form's roundings to apply (the absorbed form caches the latent and applies the
    /// value up-projection to the attention-weighted latent; the naive form caches per-head keys and values).</param>
    public ReferenceModel(ModelConfig config, ModelWeights weights, DType kvType = DType.F32, AttentionMode mode = AttentionMode.Absorbed)
    {
        _c = config;
        _w = weights;
        _kvType = kvType;
        _mode = mode;
    }

    /// <summary>Logits [T][vocab] for every position of <paramref name="tokens"/>, and the final (normed) hidden states.</summary>
    public double[][] Forward(int[] tokens, out double[][] finalHidden)
    {
        var x = tokens.Select(t => Row("model.embed_tokens.weight", t, _c.HiddenSize)).ToArray();
        for (int l = 0; l < _c.NumHiddenLayers; l++) x = Block(l, x);
        finalHidden = x.Select(r => RmsNorm(r, Vec("model.norm.weight"))).ToArray();
        string head = _c.TieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight";
        return finalHidden.Select(hh => MatVec(head, hh)).ToArray();
    }

    /// <summary>
    /// MTP depth 0 over positions 0…T−1: position i combines the main model's hidden state h_i with the embedding of
    /// nextTokens[i] (= t_{i+1}), embedding first.
    /// </summary>
    public double[][] Mtp(double[][] hidden, int[] nextTokens)
    {
        int l = _c.NumHiddenLayers, H = _c.HiddenSize;
        string p = $"model.layers.{l}.";
        var x = new double[nextTokens.Length][];
        for (int i = 0; i < nextTokens.Length; i++)
        {
            var e = RmsNorm(Row("model.embed_tokens.weight", nextTokens[i], H), Vec(p + "enorm.weight"));
            var h = RmsNorm(hidden[i], Vec(p + "hnorm.weight"));
            x[i] = MatVec(p + "eh_proj.weight", [.. e, .. h]);
        }
        x = Block(l, x);
        string head = _c.TieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight";
        return x.Select(r => MatVec(head, RmsNorm(r, Vec(p + "shared_head.norm.weight")))).ToArray();
    }

    private double[][] Block(int l, double[][] x)
    {
        string p = $"model.layers.{l}.";
        var n = x.Select(r => RmsNorm(r, Vec(p + "input_layernorm.weight"))).ToArray();
        var a = _c.Architecture == ModelArchitecture.DeepSeek ? Mla(l, n) : Gqa(l, n);
        var y = x.Select((r, t) => Add(r, a[t])).ToArray();
        var n2 = y.Select(r => RmsNorm(r, Vec(p + "post_attention_layernorm.weight"))).ToArray();
        bool moe = _c.Architecture == ModelArchitecture.DeepSeek && _c.NRoutedExperts > 0 && l >= _c.FirstKDenseReplace && l % _c.MoeLayerFreq == 0;
        return y.Select((r, t) => Add(r, moe ? Moe(l, n2[t]) : SwiGlu(p + "mlp.", n2[t]))).ToArray();
    }

    // ---------------- MLA, naive form ----------------

    private double[][] Mla(int l, double[][] xs)
    {
        string p = $"model.layers.{l}.self_attn.";
        int T = xs.Length, nh = _c.NumAttentionHeads, dn = _c.QkNopeHeadDim, dr = _c.QkRopeHeadDim, dv = _c.VHeadDim, r = _c.KvLoraRank;
        var (wk, wv) = UpProjections(l);
        bool fused = _w.Contains(p + "kv_b_proj.weight"), absorbed = _mode == AttentionMode.Absorbed;
        DType valueUp = _w[p + (fused ? "kv_b_proj.weight" : "v_b_proj.weight")].DType;
        DType keyUp = _w[p + (fused ? "kv_b_proj.weight" : "k_b_proj.weight")].DType;
        var qNope = new double[T, nh][];
        var qPe = new double[T, nh][];
        var kNope = new double[T, nh][];
        var v = new double[T, nh][];
        var kPe = new double[T][];
        var latent = new double[T][];
        for (int t = 0; t < T; t++)
        {
            var q = _c.QLoraRank is null
                ? MatVec(p + "q_proj.weight", xs[t])
                : MatVec(p + "q_b_proj.weight", RmsNorm(MatVec(p + "q_a_proj.weight", xs[t]), Vec(p + "q_a_layernorm.weight")));
            var kva = MatVec(p + "kv_a_proj_with_mqa.weight", xs[t]);
            var c = RmsNorm(kva[..r], Vec(p + "kv_a_layernorm.weight"));
            kPe[t] = Cached(RopeInterleaved(kva[r..], t));
            // Absorbed: the cache holds c, and the query meets it through W_kbᵀ (a Q8_0 matmul only when k_b is split).
            // Naive: kv_b expands c (a Q8_0 matmul of c) and the cache holds the expanded keys and values.
            if (absorbed) latent[t] = c = Cached(c);
            else c = ActivationsFor(valueUp, c);
            for (int h = 0; h < nh; h++)
            {
                qNope[t, h] = q[(h * (dn + dr))..(h * (dn + dr) + dn)];
                if (absorbed && !fused) qNope[t, h] = ActivationsFor(keyUp, qNope[t, h]);
                qPe[t, h] = RopeInterleaved(q[(h * (dn + dr) + dn)..((h + 1) * (dn + dr))], t);
                kNope[t, h] = absorbed ? MatVec(wk[h], c) : Cached(MatVec(wk[h], c));
                if (!absorbed) v[t, h] = Cached(MatVec(wv[h], c));
            }
        }
        double scale = 1 / Math.Sqrt(dn + dr);
        if (_c.RopeScaling is { Type: "yarn" } y && y.MscaleAllDim != 0 && y.Factor > 1)
        {
            double m = 0.1 * y.MscaleAllDim * Math.Log(y.Factor) + 1;
            scale *= m * m;
        }
        var outputs = new double[T][];
        for (int t = 0; t < T; t++)
        {
            var concat = new double[nh * dv];
            for (int h = 0; h < nh; h++)
            {
                var s = new double[t + 1];
                for (int j = 0; j <= t; j++) s[j] = (Dot(qNope[t, h], kNope[j, h]) + Dot(qPe[t, h], kPe[j])) * scale;
                var pr = Softmax(s);
                if (absorbed)
                {
                    // Σ_j p_j·(W_vb c_j) = W_vb (Σ_j p_j c_j): the absorbed form up-projects the mixed latent once.
                    var mixed = new double[r];
                    for (int j = 0; j <= t; j++)
                        for (int d = 0; d < r; d++) mixed[d] += pr[j] * latent[j][d];
                    MatVec(wv[h], ActivationsFor(valueUp, mixed)).CopyTo(concat, h * dv);
                }
                else
                    for (int j = 0; j <= t; j++)
                        for (int d = 0; d < dv; d++) concat[h * dv + d] += pr[j] * v[j, h][d];
            }
            outputs[t] = MatVec(p + "o_proj.weight", concat);
        }
        return outputs;
    }

    /// <summary>Per-head W_kb [dn, r] and W_vb [dv, r], from kv_b_proj or from the split k_b/v_b tensors.</summary>
    private (double[][,] Wk, double[][,] Wv) UpProjections(int l)
    {
        string p = $"model.layers.{l}.self_attn.";
        int nh = _c.NumAttentionHeads, dn = _c.QkNopeHeadDim, dv = _c.VHeadDim, r = _c.KvLoraRank;
        var wk = new double[nh][,];
        var wv = new double[nh][,];
        bool fused = _w.Contains(p + "kv_b_proj.weight");
        var all = fused ? Vec(p + "kv_b_proj.weight") : null;
        var kb = fused ? null : Vec(p + "k_b_proj.weight"); // [nh, r, dn]
        var vb = fused ? null : Vec(p + "v_b_proj.weight"); // [nh, dv, r]
        for (int h = 0; h < nh; h++)
        {
            wk[h] = new double[dn, r];
            wv[h] = new double[dv, r];
            for (int j = 0; j < r; j++)
            {
                for (int i = 0; i < dn; i++) wk[h][i, j] = fused ? all![(h * (dn + dv) + i) * r + j] : kb![(h * r + j) * dn + i];
                for (int i = 0; i < dv; i++) wv[h][i, j] = fused ? all![(h * (dn + dv) + dn + i) * r + j] : vb![(h * dv + i) * r + j];
            }
        }
        return (wk, wv);
    }

    // ---------------- grouped-query attention ----------------

    private double[][] Gqa(int l, double[][] xs)
    {
        string p = $"model.layers.{l}.self_attn.";
        int T = xs.Length, nh = _c.NumAttentionHeads, nkv = _c.NumKeyValueHeads, d = _c.HeadDim ?? _c.HiddenSize / nh;
        bool bias = _c.AttentionBias;
        var q = new double[T][];
        var k = new double[T][];
        var v = new double[T][];
        for (int t = 0; t < T; t++)
        {
            q[t] = MatVec(p + "q_proj.weight", xs[t]);
            k[t] = MatVec(p + "k_proj.weight", xs[t]);
            v[t] = MatVec(p + "v_proj.weight", xs[t]);
            if (bias)
            {
                q[t] = Add(q[t], Vec(p + "q_proj.bias"));
                k[t] = Add(k[t], Vec(p + "k_proj.bias"));
                v[t] = Add(v[t], Vec(p + "v_proj.bias"));
            }
            for (int h = 0; h < nh; h++) RopeHalves(q[t], h * d, d, t);
            for (int h = 0; h < nkv; h++) RopeHalves(k[t], h * d, d, t);
            k[t] = Cached(k[t]);
            v[t] = Cached(v[t]);
        }
        var outputs = new double[T][];
        for (int t = 0; t < T; t++)
        {
            var concat = new double[nh * d];
            for (int h = 0; h < nh; h++)
            {
                int g = h / (nh / nkv);
                var s = new double[t + 1];
                for (int j = 0; j <= t; j++) s[j] = Dot(q[t].AsSpan(h * d, d), k[j].AsSpan(g * d, d)) / Math.Sqrt(d);
                var pr = Softmax(s);
                for (int j = 0; j <= t; j++)
                    for (int e = 0; e < d; e++) concat[h * d + e] += pr[j] * v[j][g * d + e];
            }
            outputs[t] = MatVec(p + "o_proj.weight", concat);
        }
        return outputs;
    }

    // ---------------- feed-forward ----------------

    private double[] SwiGlu(string prefix, double[] x)
    {
        var g = MatVec(prefix + "gate_proj.weight", x);
        var u = MatVec(prefix + "up_proj.weight", x);
        var a = g.Select((gi, i) => gi / (1 + Math.Exp(-gi)) * u[i]).ToArray();
        return MatVec(prefix + "down_proj.weight", a);
    }

    private double[] Moe(int l, double[] x)
    {
        string p = $"model.layers.{l}.mlp.";
        int E = _c.NRoutedExperts, k = _c.NumExpertsPerTok;
        var (ids, weights) = Route(l, MatVec(p + "gate.weight", x));
        var y = new double[x.Length];
        for (int j = 0; j < k; j++)
        {
            var e = Expert(l, ids[j], x);
            for (int i = 0; i < y.Length; i++) y[i] += weights[j] * e[i];
        }
        if (_c.NSharedExperts > 0) y = Add(y, SwiGlu(p + "shared_experts.", x));
        return y;
    }

    /// <summary>The router, from the DeepSeekMoE description in the V3 paper, in float64.</summary>
    public (int[] Ids, double[] Weights) Route(int l, double[] logits)
    {
        int E = _c.NRoutedExperts, k = _c.NumExpertsPerTok;
        double[] s;
        if (_c.ScoringFunc == ExpertScoring.Sigmoid) s = logits.Select(z => 1 / (1 + Math.Exp(-z))).ToArray();
        else s = Softmax(logits);
        var choice = (double[])s.Clone();
        if (_c.TopkMethod == ExpertSelection.NoAuxTopkCorrected)
        {
            var b = Vec($"model.layers.{l}.mlp.gate.e_score_correction_bias");
            for (int e = 0; e < E; e++) choice[e] += b[e];
        }
        if (_c.TopkMethod != ExpertSelection.Greedy && _c.NGroup > 1)
        {
            int per = E / _c.NGroup;
            var groupScore = new double[_c.NGroup];
            for (int g = 0; g < _c.NGroup; g++)
            {
                var members = choice.Skip(g * per).Take(per).OrderByDescending(v => v).ToArray();
                groupScore[g] = _c.TopkMethod == ExpertSelection.NoAuxTopkCorrected ? members[0] + members[1] : members[0];
            }
            var keep = Enumerable.Range(0, _c.NGroup).OrderByDescending(g => groupScore[g]).ThenBy(g => g).Take(_c.TopkGroup).ToHashSet();
            for (int e = 0; e < E; e++)
                if (!keep.Contains(e / per)) choice[e] = double.NegativeInfinity;
        }
        var ids = Enumerable.Range(0, E).OrderByDescending(e => choice[e]).ThenBy(e => e).Take(k).ToArray();
        var w = ids.Select(e => s[e]).ToArray();
        if (_c.NormTopkProb)
        {
            double sum = w.Sum();
            w = w.Select(v => v / sum).ToArray();
        }
        return (ids, w.Select(v => v * _c.RoutedScalingFactor).ToArray());
    }

    private double[] Expert(int l, int e, double[] x)
    {
        string p = $"model.layers.{l}.mlp.experts.";
        if (_w.Contains(p + $"{e}.gate_proj.weight")) return SwiGlu(p + $"{e}.", x);
        // Stacked [E, out, in]: expert e is the e-th block of rows.
        double[] Part(string which, int rows, int cols, double[] input)
        {
            var all = Vec(p + which);
            input = ActivationsFor(_w[p + which].DType, input);
            var y = new double[rows];
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++) y[i] += all[((long)e * rows + i) * cols + j] * input[j];
            return y;
        }
        int H = _c.HiddenSize, F = _c.MoeIntermediateSize;
        var g = Part("gate_proj.weight", F, H, x);
        var u = Part("up_proj.weight", F, H, x);
        var a = g.Select((gi, i) => gi / (1 + Math.Exp(-gi)) * u[i]).ToArray();
        return Part("down_proj.weight", H, F, a);
    }

    // ---------------- RoPE / YaRN ----------------

    /// <summary>Inverse frequencies of the rotary pairs, with YaRN's ramp between interpolated and kept frequencies.</summary>
    private double[] Frequencies(int dims)
    {
        int half = dims / 2;
        var f = new double[half];
        for (int i = 0; i < half; i++) f[i] = 1 / Math.Pow(_c.RopeTheta, 2.0 * i / dims);
        if (_c.RopeScaling is { Type: "yarn" } y && y.Factor > 1)
        {
            double Dim(double turns) => dims * Math.Log(y.OriginalMaxPositionEmbeddings / (turns * 2 * Math.PI)) / (2 * Math.Log(_c.RopeTheta));
            double lo = Math.Max(Math.Floor(Dim(y.BetaFast)), 0), hi = Math.Min(Math.Ceiling(Dim(y.BetaSlow)), dims - 1);
            if (lo == hi) hi += 0.001;
            for (int i = 0; i < half; i++)
            {
                double ramp = Math.Min(Math.Max((i - lo) / (hi - lo), 0), 1); // 0: keep, 1: interpolate
                f[i] = f[i] * (1 - ramp) + f[i] / y.Factor * ramp;
            }
        }
        return f;
    }

    private double Magnitude()
    {
        if (_c.RopeScaling is not { Type: "yarn" } y || y.Factor <= 1) return 1;
        double M(double m) => 0.1 * m * Math.Log(y.Factor) + 1;
        return M(y.Mscale) / M(y.MscaleAllDim);
    }

    private double[] RopeInterleaved(double[] x, int pos)
    {
        var f = Frequencies(x.Length);
        double m = Magnitude();
        var y = new double[x.Length];
        for (int i = 0; i < x.Length / 2; i++)
        {
            double c = Math.Cos(pos * f[i]) * m, s = Math.Sin(pos * f[i]) * m;
            y[2 * i] = x[2 * i] * c - x[2 * i + 1] * s;
            y[2 * i + 1] = x[2 * i] * s + x[2 * i + 1] * c;
        }
        return y;
    }

    private void RopeHalves(double[] x, int offset, int d, int pos)
    {
        var f = Frequencies(d);
        for (int i = 0; i < d / 2; i++)
        {
            double c = Math.Cos(pos * f[i]), s = Math.Sin(pos * f[i]);
            double a = x[offset + i], b = x[offset + i + d / 2];
            x[offset + i] = a * c - b * s;
            x[offset + i + d / 2] = a * s + b * c;
        }
    }

    // ---------------- the optimised path's roundings ----------------

    /// <summary>What a Q8_0 matmul sees of its input row: per 32-block q = round(x/d) with d = amax/127, d stored as fp16.</summary>
    private static double[] ActivationsFor(DType weightType, double[] x)
    {
        if (weightType != DType.Q8_0) return x;
        var y = new double[x.Length];
        for (int b = 0; b < x.Length; b += 32)
        {
            float amax = 0;
            for (int j = b; j < b + 32; j++) amax = MathF.Max(amax, MathF.Abs((float)x[j]));
            float scale = amax / 127f, inverse = scale > 0 ? 1f / scale : 0f;
            double stored = (double)(Half)scale;
            for (int j = b; j < b + 32; j++) y[j] = MathF.Round((float)x[j] * inverse, MidpointRounding.ToEven) * stored;
        }
        return y;
    }

    /// <summary>A key or value row as the KV cache holds it.</summary>
    private double[] Cached(double[] x) => _kvType switch
    {
        DType.F32 => x,
        DType.F16 => x.Select(v => (double)(float)(Half)(float)v).ToArray(),
        DType.BF16 => x.Select(v => (double)Bf16Codec.ToSingle(Bf16Codec.FromSingle((float)v))).ToArray(),
        _ => throw new ArgumentException($"no {_kvType} KV cache"),
    };

    // ---------------- arithmetic ----------------

    private double[] RmsNorm(double[] x, double[] w)
    {
        double ms = x.Sum(v => v * v) / x.Length;
        double inv = 1 / Math.Sqrt(ms + _c.RmsNormEps);
        return x.Select((v, i) => v * inv * w[i]).ToArray();
    }

    private static double[] Softmax(double[] s)
    {
        double max = s.Max();
        var e = s.Select(v => Math.Exp(v - max)).ToArray();
        double sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }

    private static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }

    private static double[] Add(double[] a, double[] b) => a.Select((v, i) => v + b[i]).ToArray();

    private double[] MatVec(string name, double[] x)
    {
        var t = _w[name];
        int rows = (int)t.Rows, cols = t.Cols;
        Assert.Equal(cols, x.Length);
        var m = Vec(name);
        x = ActivationsFor(t.DType, x);
        var y = new double[rows];
        for (int i = 0; i < rows; i++) y[i] = Dot(m.AsSpan(i * cols, cols), x);
        return y;
    }

    private static double[] MatVec(double[,] m, double[] x)
    {
        var y = new double[m.GetLength(0)];
        for (int i = 0; i < y.Length; i++)
            for (int j = 0; j < x.Length; j++) y[i] += m[i, j] * x[j];
        return y;
    }

    private double[] Row(string name, int row, int width) => Vec(name).AsSpan(row * width, width).ToArray();

    /// <summary>Any F32/F16/BF16 tensor's elements as float64 (decoded here with the codecs, not the kernels).</summary>
    private double[] Vec(string name)
    {
        if (_values.TryGetValue(name, out var cached)) return cached;
        var t = _w[name];
        double[] v = t.DType switch
        {
            DType.F32 => t.AsSpan<float>().ToArray().Select(f => (double)f).ToArray(),
            DType.BF16 => t.AsSpan<ushort>().ToArray().Select(b => (double)Bf16Codec.ToSingle(b)).ToArray(),
            DType.F16 => t.AsSpan<ushort>().ToArray().Select(b => (double)Fp16Codec.ToSingle(b)).ToArray(),
            DType.F8E4M3 => Fp8(t),
            _ => Blocks(t),
        };
        _values[name] = v;
        return v;
    }

    /// <summary>DeepSeek FP8: code · scale of its 128×128 tile (tiles over the flattened [rows, cols] matrix).</summary>
    private static double[] Fp8(Tensor t)
    {
        var codes = t.AsSpan<byte>();
        var scales = t.BlockScales!.AsSpan<float>();
        int cols = t.Cols, tileCols = (cols + 127) / 128;
        var v = new double[codes.Length];
        for (int i = 0; i < v.Length; i++)
        {
            int r = i / cols, c = i % cols;
            v[i] = (double)Fp8E4M3Codec.ToSingle(codes[i]) * scales[r / 128 * tileCols + c / 128];
        }
        return v;
    }

    /// <summary>GGML block formats, decoded block by block with the format's dequantiser (not the matmul kernels).</summary>
    private static double[] Blocks(Tensor t)
    {
        var f = new float[t.ElementCount];
        BlockQuantizer.Dequantize(t.DType, t.AsSpan<byte>(), f);
        return f.Select(x => (double)x).ToArray();
    }
}
