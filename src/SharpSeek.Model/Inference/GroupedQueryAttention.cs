using SharpSeek.Tensors;
using SharpSeek.Tensors.Backend;
using SharpSeek.Tensors.Kernels;

namespace SharpSeek.Model;

/// <summary>
/// Grouped-query attention (Qwen2, Llama): q = W_q x (+ b_q) [nh, d], k = W_k x (+ b_k) and v = W_v x (+ b_v)
/// [n_kv, d], RoPE on q and k, query head h attends with key/value head h / (nh / n_kv), out = W_o · concat(heads).
/// Keys and values are projected straight into their cache rows.
/// </summary>
internal sealed class GroupedQueryAttention
{
    private readonly int _nh, _nkv, _d;
    private readonly float _scale;
    private readonly Tensor _q, _k, _v, _o;
    private readonly Tensor? _qBias, _kBias, _vBias;

    public GroupedQueryAttention(LanguageModel owner, ModelWeights w, int layer)
    {
        var c = owner.Config;
        _nh = c.NumAttentionHeads;
        _nkv = c.NumKeyValueHeads;
        _d = c.AttentionHeadDim;
        _scale = (float)c.SoftmaxScale;
        int h = c.HiddenSize;
        _q = w.Get(WeightNames.QProj(layer), _nh * _d, h);
        _k = w.Get(WeightNames.KProj(layer), _nkv * _d, h);
        _v = w.Get(WeightNames.VProj(layer), _nkv * _d, h);
        _o = w.Get(WeightNames.OutputProjection(layer), h, _nh * _d);
        if (c.AttentionBias)
        {
            _qBias = owner.F32Vector(w, WeightNames.QBias(layer), _nh * _d);
            _kBias = owner.F32Vector(w, WeightNames.KBias(layer), _nkv * _d);
            _vBias = owner.F32Vector(w, WeightNames.VBias(layer), _nkv * _d);
        }
    }

    public int CacheRowWidth => _nkv * _d;

    public void Forward(IComputeBackend b, RopeTable rope, ReadOnlySpan<float> x, Span<float> output, int tokens, int firstPosition,
        KvCache cache, int layer, float[] queryScratch, float[] headsScratch)
    {
        int T = tokens, kw = _nkv * _d;
        var q = queryScratch.AsSpan(0, T * _nh * _d);
        var k = cache.Keys(layer).Slice(firstPosition * kw, T * kw);
        var v = cache.Values(layer).Slice(firstPosition * kw, T * kw);
        b.Linear(_q, x, q, T);
        b.Linear(_k, x, k, T);
        b.Linear(_v, x, v, T);
        if (_qBias is not null)
        {
            b.AddBias(_qBias, q, T);
            b.AddBias(_kBias!, k, T);
            b.AddBias(_vBias!, v, T);
        }
        b.Rope(rope, q, T, _nh * _d, _nh, _d, 0, firstPosition);
        b.Rope(rope, k, T, kw, _nkv, _d, 0, firstPosition);

        var heads = headsScratch.AsSpan(0, T * _nh * _d);
        var layout = new AttentionLayout(T, firstPosition, _nh, _nkv, _d, _d,
            QueryTokenStride: _nh * _d, QueryHeadStride: _d,
            KeyRowStride: kw, KeyHeadStride: _d, ValueRowStride: kw, ValueHeadStride: _d,
            OutputTokenStride: _nh * _d, OutputHeadStride: _d, Scale: _scale);
        b.Attention(layout, q, cache.Keys(layer), cache.Values(layer), heads);
        b.Linear(_o, heads, output, T);
    }
}
