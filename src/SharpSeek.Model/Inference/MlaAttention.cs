using SharpSeek.Tensors;
using SharpSeek.Tensors.Backend;
using SharpSeek.Tensors.Kernels;
using SharpSeek.Tensors.Quantization;

namespace SharpSeek.Model;

/// <summary>
/// Multi-head Latent Attention, for the T rows of a batch (each at its sequence's next position):
/// <code>
///   q          = W_qb · RMSNorm_q(W_qa · x)   (or W_q · x)        → [T, nh, dn + dr], RoPE on the last dr
///   [c | k_pe] = W_kva · x                                        → c normalised, k_pe rotated (one per token)
///   naive:     k[h] = [W_kb[h] c | k_pe], v[h] = W_vb[h] c          cached per head, plain MHA
///   absorbed:  q̃[h] = [W_kb[h]ᵀ q_nope[h] | q_pe[h]] attends over the cached [c | k_pe] rows (MQA, one kv head);
///              head output = W_vb[h] · (Σ_s p_s c_s)
///   out        = W_o · concat(heads)
/// </code>
/// Both forms score q·k with softmax_scale = (dn + dr)^-0.5 · mscale² and give the same result; absorbed caches
/// kv_lora_rank + dr floats per token and layer instead of nh·(dn + dr + dv).
/// </summary>
internal sealed class MlaAttention
{
    private readonly AttentionMode _mode;
    private readonly int _nh, _dn, _dr, _dv, _r, _qr;
    private readonly float _scale, _eps;
    private readonly Tensor? _q, _qA, _qANorm, _qB;
    private readonly Tensor _kvA, _kvANorm, _o;
    private readonly Tensor? _kvB;             // naive: [nh·(dn+dv), r]
    private readonly Tensor[]? _queryAbsorb;   // absorbed: per head W_kb[h]ᵀ [r, dn]
    private readonly Tensor[]? _valueUp;       // absorbed: per head W_vb[h] [dv, r]

    public MlaAttention(LanguageModel owner, ModelWeights w, int layer, AttentionMode mode)
    {
        var c = owner.Config;
        _mode = mode;
        _nh = c.NumAttentionHeads;
        _dn = c.QkNopeHeadDim;
        _dr = c.QkRopeHeadDim;
        _dv = c.VHeadDim;
        _r = c.KvLoraRank;
        _scale = (float)c.SoftmaxScale;
        _eps = owner.Eps;
        int h = c.HiddenSize, qk = _dn + _dr;

        if (c.QLoraRank is int qr)
        {
            _qr = qr;
            _qA = w.Get(WeightNames.QAProj(layer), qr, h);
            _qANorm = owner.F32Vector(w, WeightNames.QANorm(layer), qr);
            _qB = w.Get(WeightNames.QBProj(layer), _nh * qk, qr);
        }
        else _q = w.Get(WeightNames.QProj(layer), _nh * qk, h);
        _kvA = w.Get(WeightNames.KvAProj(layer), _r + _dr, h);
        _kvANorm = owner.F32Vector(w, WeightNames.KvANorm(layer), _r);
        _o = w.Get(WeightNames.OutputProjection(layer), h, _nh * _dv);

        bool fused = w.Contains(WeightNames.KvBProj(layer));
        var kvB = fused ? w.Get(WeightNames.KvBProj(layer), _nh * (_dn + _dv), _r) : null;
        var kB = fused ? null : w.Get(WeightNames.KBProj(layer), _nh, _r, _dn);
        var vB = fused ? null : w.Get(WeightNames.VBProj(layer), _nh, _dv, _r);

        if (mode == AttentionMode.Naive)
            _kvB = kvB ?? owner.Own(FuseUpProjection(owner.Backend, kB!, vB!));
        else
        {
            _queryAbsorb = new Tensor[_nh];
            _valueUp = new Tensor[_nh];
            float[]? kvBValues = null;
            for (int head = 0; head < _nh; head++)
            {
                if (kB is not null)
                {
                    _queryAbsorb[head] = PerHead(kB, head, _r, _dn);
                    _valueUp[head] = PerHead(vB!, head, _dv, _r);
                }
                else
                {
                    // HF stores W_kb[h] as [dn, r] rows; the query fold needs its transpose, so build it once.
                    kvBValues ??= WeightConversion.ToF32(owner.Backend, kvB!);
                    var kbT = new float[_r * _dn];
                    int baseRow = head * (_dn + _dv);
                    for (int i = 0; i < _dn; i++)
                        for (int j = 0; j < _r; j++)
                            kbT[j * _dn + i] = kvBValues[(baseRow + i) * _r + j];
                    _queryAbsorb[head] = owner.Own(StoreLike(kvB!.DType, kbT, _r, _dn));
                    _valueUp[head] = ValueRows(owner, kvB!, baseRow + _dn, ref kvBValues);
                }
            }
        }
    }

    /// <summary>Floats of key/value cache per position: [c | k_pe] absorbed, else keys and values of every head.</summary>
    public (int Keys, int Values) CacheRowWidths => _mode == AttentionMode.Absorbed
        ? (_r + _dr, 0)
        : (_nh * (_dn + _dr), _nh * _dv);

    /// <summary>
    /// Attention for every row of <paramref name="batch"/> (normed input <paramref name="x"/>, output
    /// <paramref name="output"/>, both [tokens, hidden]): projections over all rows at once, cache rows written to
    /// each sequence's pages in <paramref name="cacheLayer"/>, then each sequence attends over its own cache.
    /// </summary>
    public unsafe void Forward(IComputeBackend b, LanguageModel model, ReadOnlySpan<float> x, Span<float> output, ForwardBatch batch, int cacheLayer, MlaScratch s)
    {
        int T = batch.TokenCount, qk = _dn + _dr, kvw = _r + _dr;

        // Queries [T, nh, dn + dr], RoPE on each head's last dr.
        var q = s.Query.AsSpan(0, T * _nh * qk);
        if (_qA is not null)
        {
            var qa = s.QueryLatent.AsSpan(0, T * _qr);
            b.Linear(_qA, x, qa, T);
            b.RmsNorm(qa, _qANorm!, qa, T, _eps);
            b.Linear(_qB!, qa, q, T);
        }
        else b.Linear(_q!, x, q, T);
        model.RopeRows(batch, q, _nh * qk, _nh, qk, _dn);

        // The compressed key/value [T, r + dr]: latent c and the shared rotary key k_pe.
        var kva = s.KvLatent.AsSpan(0, T * kvw);
        b.Linear(_kvA, x, kva, T);

        var heads = s.Heads.AsSpan(0, T * _nh * _dv);
        var kv = batch.Pool!.View(cacheLayer);
        if (_mode == AttentionMode.Absorbed) AttendAbsorbed(b, model, q, kva, heads, batch, kv, s);
        else AttendNaive(b, model, q, kva, heads, batch, kv, s);

        b.Linear(_o, heads, output, T);
    }

    private unsafe void AttendAbsorbed(IComputeBackend b, LanguageModel model, Span<float> q, Span<float> kva, Span<float> heads, ForwardBatch batch,
        in KvPageView kv, MlaScratch s)
    {
        int T = batch.TokenCount, qk = _dn + _dr, kvw = _r + _dr;
        // Cache rows [RMSNorm(c) | RoPE(k_pe)] for the new positions, stored in the cache's element type.
        for (int t = 0; t < T; t++)
        {
            var row = kva.Slice(t * kvw, kvw);
            b.RmsNorm(row[.._r], _kvANorm, row[.._r], 1, _eps);
        }
        model.RopeRows(batch, kva, kvw, 1, kvw, _r);
        StoreRows(batch, kv, kva, kvw, keys: true);

        // Fold W_kb into the query: q̃[t, h] = [W_kb[h]ᵀ q_nope[t, h] | q_pe[t, h]], so q̃·[c | k_pe] = q_nope·k_nope + q_pe·k_pe.
        var qAbs = s.AbsorbedQuery.AsSpan(0, T * _nh * kvw);
        b.GroupedLinear(_queryAbsorb!, q, _nh * qk, qk, qAbs, _nh * kvw, kvw, T);
        for (int t = 0; t < T; t++)
            for (int h = 0; h < _nh; h++)
                q.Slice(t * _nh * qk + h * qk + _dn, _dr).CopyTo(qAbs.Slice(t * _nh * kvw + h * kvw + _r, _dr));

        // Multi-query attention over the latent rows; the value is the latent itself (the first r elements of each row).
        var latentOut = s.LatentOut.AsSpan(0, T * _nh * _r);
        var shape = new AttentionShape(_nh, 1, kvw, _r,
            QueryTokenStride: _nh * kvw, QueryHeadStride: kvw, KeyHeadStride: 0, ValueHeadStride: 0,
            OutputTokenStride: _nh * _r, OutputHeadStride: _r, Scale: _scale);
        b.Attention(shape, batch.AttentionSequences, batch.PageTable, kv, qAbs, latentOut);

        // Expand after the weighted sum: head output = W_vb[h] · (Σ p c).
        b.GroupedLinear(_valueUp!, latentOut, _nh * _r, _r, heads, _nh * _dv, _dv, T);
    }

    private unsafe void AttendNaive(IComputeBackend b, LanguageModel model, Span<float> q, Span<float> kva, Span<float> heads, ForwardBatch batch,
        in KvPageView kv, MlaScratch s)
    {
        int T = batch.TokenCount, qk = _dn + _dr, kvw = _r + _dr;
        var latent = s.Latent.AsSpan(0, T * _r);
        for (int t = 0; t < T; t++) b.RmsNorm(kva.Slice(t * kvw, _r), _kvANorm, latent.Slice(t * _r, _r), 1, _eps);
        model.RopeRows(batch, kva, kvw, 1, kvw, _r);

        // Expand every head's k_nope and v from the latent, then cache k = [k_nope | k_pe] and v per head.
        var kvx = s.ExpandedKv.AsSpan(0, T * _nh * (_dn + _dv));
        b.Linear(_kvB!, latent, kvx, T);
        var keys = s.KeyRows.AsSpan(0, T * _nh * qk);
        var values = s.ValueRows.AsSpan(0, T * _nh * _dv);
        for (int t = 0; t < T; t++)
        {
            var kPe = kva.Slice(t * kvw + _r, _dr);
            for (int h = 0; h < _nh; h++)
            {
                var src = kvx.Slice((t * _nh + h) * (_dn + _dv), _dn + _dv);
                var key = keys.Slice(t * _nh * qk + h * qk, qk);
                src[.._dn].CopyTo(key);
                kPe.CopyTo(key[_dn..]);
                src[_dn..].CopyTo(values.Slice(t * _nh * _dv + h * _dv, _dv));
            }
        }
        StoreRows(batch, kv, keys, _nh * qk, keys: true);
        StoreRows(batch, kv, values, _nh * _dv, keys: false);

        var shape = new AttentionShape(_nh, _nh, qk, _dv,
            QueryTokenStride: _nh * qk, QueryHeadStride: qk, KeyHeadStride: qk, ValueHeadStride: _dv,
            OutputTokenStride: _nh * _dv, OutputHeadStride: _dv, Scale: _scale);
        b.Attention(shape, batch.AttentionSequences, batch.PageTable, kv, q, heads);
    }

    /// <summary>Writes row t of <paramref name="rows"/> ([T, width]) into its sequence's page at its position.</summary>
    internal static unsafe void StoreRows(ForwardBatch batch, in KvPageView kv, ReadOnlySpan<float> rows, int width, bool keys)
    {
        foreach (var seg in batch.Segments)
            fixed (int* pages = seg.Kv.Pages)
                for (int t = 0; t < seg.Tokens; t++)
                {
                    int position = seg.FirstPosition + t;
                    byte* dst = keys ? kv.KeyRow(pages, position) : kv.ValueRow(pages, position);
                    kv.Store(rows.Slice((seg.FirstRow + t) * width, width), dst);
                }
    }

    /// <summary>
    /// A transposed copy kept in the source's dtype when that is lossless (F16/BF16 values survive F32 and back
    /// exactly), halving the bytes every decode step reads; F32 otherwise (FP8 and block formats do not transpose).
    /// </summary>
    private static Tensor StoreLike(DType source, float[] values, int rows, int cols)
    {
        if (source is not (DType.F16 or DType.BF16)) return Tensor.FromArray(values, rows, cols);
        var t = Tensor.Allocate(source, rows, cols);
        if (source == DType.F16) Fp16Codec.FromSingle(values, t.AsSpan<ushort>());
        else Bf16Codec.FromSingle(values, t.AsSpan<ushort>());
        return t;
    }

    /// <summary>Head <paramref name="head"/> of a [nh, rows, cols] tensor as a [rows, cols] view.</summary>
    private static Tensor PerHead(Tensor t, int head, int rows, int cols)
    {
        if (t.BlockScales is not null) throw new NotSupportedException("FP8 split MLA projections are not supported; pass kv_b_proj");
        return t.Narrow(head, 1).Reshape(rows, cols);
    }

    /// <summary>
    /// W_vb[h]: rows [start, start + dv) of kv_b as a view. FP8 keeps its block scales when every head's value rows
    /// start and end on 128-row tile boundaries (dn and dv multiples of 128, as in V3); otherwise all heads get F32
    /// copies, so the grouped matmul sees one dtype.
    /// </summary>
    private Tensor ValueRows(LanguageModel owner, Tensor kvB, int start, ref float[]? dequantized)
    {
        var view = kvB.Narrow(start, _dv);
        if (kvB.BlockScales is not { } scales) return view;
        int bs = Tensor.Fp8BlockSize;
        if (_dn % bs == 0 && _dv % bs == 0) return view.WithBlockScales(scales.Narrow(start / bs, _dv / bs));
        dequantized ??= WeightConversion.ToF32(owner.Backend, kvB);
        return owner.Own(Tensor.FromArray(dequantized.AsSpan(start * _r, _dv * _r), _dv, _r));
    }

    /// <summary>HF's fused [nh·(dn+dv), r] up-projection from the split k_b [nh, r, dn] and v_b [nh, dv, r], in F32.</summary>
    private Tensor FuseUpProjection(IComputeBackend backend, Tensor kB, Tensor vB)
    {
        float[] kb = WeightConversion.ToF32(backend, kB), vb = WeightConversion.ToF32(backend, vB);
        var fused = new float[_nh * (_dn + _dv) * _r];
        for (int h = 0; h < _nh; h++)
        {
            int baseRow = h * (_dn + _dv);
            for (int i = 0; i < _dn; i++)
                for (int j = 0; j < _r; j++)
                    fused[(baseRow + i) * _r + j] = kb[(h * _r + j) * _dn + i];
            Array.Copy(vb, h * _dv * _r, fused, (baseRow + _dn) * _r, _dv * _r);
        }
        return Tensor.FromArray(fused, _nh * (_dn + _dv), _r);
    }
}

/// <summary>MLA buffers for a batch of tokens (shared by every layer).</summary>
internal sealed class MlaScratch(ModelConfig c, int maxBatch, AttentionMode mode)
{
    private static float[] Buffer(long n) => new float[n];

    public float[] Query { get; } = Buffer((long)maxBatch * c.NumAttentionHeads * c.QkHeadDim);
    public float[] QueryLatent { get; } = Buffer((long)maxBatch * (c.QLoraRank ?? 0));
    public float[] KvLatent { get; } = Buffer((long)maxBatch * (c.KvLoraRank + c.QkRopeHeadDim));
    public float[] Heads { get; } = Buffer((long)maxBatch * c.NumAttentionHeads * c.VHeadDim);
    // absorbed
    public float[] AbsorbedQuery { get; } = Buffer(mode == AttentionMode.Absorbed ? (long)maxBatch * c.NumAttentionHeads * (c.KvLoraRank + c.QkRopeHeadDim) : 0);
    public float[] LatentOut { get; } = Buffer(mode == AttentionMode.Absorbed ? (long)maxBatch * c.NumAttentionHeads * c.KvLoraRank : 0);
    // naive
    public float[] Latent { get; } = Buffer(mode == AttentionMode.Naive ? (long)maxBatch * c.KvLoraRank : 0);
    public float[] KeyRows { get; } = Buffer(mode == AttentionMode.Naive ? (long)maxBatch * c.NumAttentionHeads * c.QkHeadDim : 0);
    public float[] ValueRows { get; } = Buffer(mode == AttentionMode.Naive ? (long)maxBatch * c.NumAttentionHeads * c.VHeadDim : 0);
    public float[] ExpandedKv { get; } = Buffer(mode == AttentionMode.Naive ? (long)maxBatch * c.NumAttentionHeads * (c.QkNopeHeadDim + c.VHeadDim) : 0);
}
