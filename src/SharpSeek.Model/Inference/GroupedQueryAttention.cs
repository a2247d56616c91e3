using SharpSeek.Tensors;
using SharpSeek.Tensors.Backend;
using SharpSeek.Tensors.Kernels;

namespace SharpSeek.Model;

/// <summary>
/// Grouped-query attention (Qwen2, Llama): q = W_q x (+ b_q) [nh, d], k = W_k x (+ b_k) and v = W_v x (+ b_v)
/// [n_kv, d], RoPE on q and k, query head h attends with key/value head h / (nh / n_kv), out = W_o · concat(heads).
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

    /// <summary>Attention for every row of <paramref name="batch"/>, caching keys and values in <paramref name="cacheLayer"/>.</summary>
    public void Forward(IComputeBackend b, LanguageModel model, ReadOnlySpan<float> x, Span<float> output, ForwardBatch batch, int cacheLayer, GqaScratch s)
    {
        int T = batch.TokenCount, kw = _nkv * _d;
        var q = s.Query.AsSpan(0, T * _nh * _d);
        var k = s.Keys.AsSpan(0, T * kw);
        var v = s.Values.AsSpan(0, T * kw);
        b.Linear(_q, x, q, T);
        b.Linear(_k, x, k, T);
        b.Linear(_v, x, v, T);
        if (_qBias is not null)
        {
            b.AddBias(_qBias, q, T);
            b.AddBias(_kBias!, k, T);
            b.AddBias(_vBias!, v, T);
        }
        model.RopeRows(batch, q, _nh * _d, _nh, _d, 0);
        model.RopeRows(batch, k, kw, _nkv, _d, 0);
        var kv = batch.Pool!.View(cacheLayer);
        MlaAttention.StoreRows(batch, kv, k, kw, keys: true);
        MlaAttention.StoreRows(batch, kv, v, kw, keys: false);

        var heads = s.Heads.AsSpan(0, T * _nh * _d);
        var shape = new AttentionShape(_nh, _nkv, _d, _d,
            QueryTokenStride: _nh * _d, QueryHeadStride: _d, KeyHeadStride: _d, ValueHeadStride: _d,
            OutputTokenStride: _nh * _d, OutputHeadStride: _d, Scale: _scale);
        b.Attention(shape, batch.AttentionSequences, batch.PageTable, kv, q, heads);
        b.Linear(_o, heads, output, T);
    }
}

/// <summary>GQA buffers for a batch of tokens (shared by every layer).</summary>
internal sealed class GqaScratch(ModelConfig c, int maxTokens)
{
    public float[] Query { get; } = new float[maxTokens * c.NumAttentionHeads * c.AttentionHeadDim];
    public float[] Heads { get; } = new float[maxTokens * c.NumAttentionHeads * c.AttentionHeadDim];
    public float[] Keys { get; } = new float[maxTokens * c.NumKeyValueHeads * c.AttentionHeadDim];
    public float[] Values { get; } = new float[maxTokens * c.NumKeyValueHeads * c.AttentionHeadDim];
}
