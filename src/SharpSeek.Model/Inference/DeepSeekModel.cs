using System.Numerics.Tensors;
using SharpSeek.Tensors;
using Tensor = SharpSeek.Tensors.Tensor;

namespace SharpSeek.Model;

/// <summary>
/// DeepSeek V2/V3/R1 forward pass:
/// <code>
///   x = embed(tokens)
///   for each block:  x += MLA(RMSNorm(x));  x += FFN(RMSNorm(x))     FFN = dense SwiGLU for the first
///                                                                      first_k_dense_replace blocks, DeepSeekMoE after
///   logits = head(RMSNorm(x))
/// </code>
/// MTP depth k (layer num_hidden_layers + k) maps concat(enorm(embed(t_{i+1})), hnorm(h_i)) through eh_proj, runs one
/// more block with its own KV cache, then shared_head.norm and the (shared) head, predicting t_{i+2}.
/// </summary>
internal sealed class DeepSeekModel : LanguageModel
{
    private readonly Tensor _embedding, _finalNorm, _head;
    private readonly Block[] _blocks;
    private readonly MtpLayer[] _mtp;

    public override int MtpDepth => _mtp.Length;

    private sealed record Block(Tensor AttentionNorm, Tensor FfnNorm, MlaAttention Attention, DenseFeedForward? Dense, MoeFeedForward? Moe);

    private sealed record MtpLayer(Tensor EmbeddingNorm, Tensor HiddenNorm, Tensor Projection, Tensor HeadNorm, Tensor Embedding, Tensor Head, Block Block);

    public DeepSeekModel(ModelConfig config, ModelWeights w, ModelOptions options)
        : base(config, options, Tensors.Kernels.RopeLayout.Interleaved)
    {
        int h = config.HiddenSize, v = config.VocabSize;
        _embedding = w.Get(WeightNames.Embedding, v, h);
        _finalNorm = F32Vector(w, WeightNames.FinalNorm, h);
        _head = config.TieWordEmbeddings ? _embedding : w.Get(WeightNames.OutputHead, v, h);

        _blocks = new Block[config.NumHiddenLayers];
        for (int l = 0; l < _blocks.Length; l++) _blocks[l] = BindBlock(w, l);

        // MTP layers are optional: a file converted without them still runs the main model.
        int depth = w.Contains(WeightNames.MtpProjection(config.NumHiddenLayers)) ? config.NumNextnPredictLayers : 0;
        _mtp = new MtpLayer[depth];
        for (int k = 0; k < depth; k++)
        {
            int l = config.NumHiddenLayers + k;
            _mtp[k] = new MtpLayer(
                F32Vector(w, WeightNames.MtpEmbeddingNorm(l), h),
                F32Vector(w, WeightNames.MtpHiddenNorm(l), h),
                w.Get(WeightNames.MtpProjection(l), h, 2 * h),
                w.Contains(WeightNames.MtpHeadNorm(l)) ? F32Vector(w, WeightNames.MtpHeadNorm(l), h) : _finalNorm,
                w.Contains(WeightNames.MtpEmbedding(l)) ? w.Get(WeightNames.MtpEmbedding(l), v, h) : _embedding,
                w.Contains(WeightNames.MtpHead(l)) ? w.Get(WeightNames.MtpHead(l), v, h) : _head,
                BindBlock(w, l));
        }
    }

    private Block BindBlock(ModelWeights w, int l)
    {
        var c = Config;
        bool moe = c.IsMoeLayer(l);
        return new Block(
            F32Vector(w, WeightNames.AttentionNorm(l), c.HiddenSize),
            F32Vector(w, WeightNames.FfnNorm(l), c.HiddenSize),
            new MlaAttention(this, w, l, Options.Attention),
            moe ? null : new DenseFeedForward(w, WeightNames.DenseGate(l), WeightNames.DenseUp(l), WeightNames.DenseDown(l), c.HiddenSize, c.IntermediateSize),
            moe ? new MoeFeedForward(this, w, l) : null);
    }

    public override (int Keys, int Values) CacheRowWidths => _blocks[0].Attention.CacheRowWidths;

    internal override BatchScratch CreateScratch(int maxTokens) => new Scratch(this, maxTokens);

    internal override void Forward(ForwardBatch batch)
    {
        var s = (Scratch)batch.Scratch;
        int T = batch.TokenCount, h = Config.HiddenSize;
        var x = s.X.AsSpan(0, T * h);
        Backend.Embed(_embedding, batch.Tokens, x);
        for (int l = 0; l < _blocks.Length; l++) RunBlock(_blocks[l], s, x, batch, l);

        var normed = s.Normed.AsSpan(0, T * h);
        Backend.RmsNorm(x, _finalNorm, normed, T, Eps);
        batch.Head(_head, normed);
    }

    internal override void ForwardMtp(ForwardBatch batch, int depth)
    {
        var s = (Scratch)batch.Scratch;
        var m = _mtp[depth];
        int T = batch.TokenCount, h = Config.HiddenSize;
        var hidden = batch.MtpHidden;

        // eh_proj input per token: [enorm(embedding of the next token) | hnorm(previous hidden)], embedding first as in
        // the released checkpoint (the paper writes the other order).
        var embedded = s.Normed.AsSpan(0, T * h);
        Backend.Embed(m.Embedding, batch.Tokens, embedded);
        var concat = s.Concat.AsSpan(0, T * 2 * h);
        for (int t = 0; t < T; t++)
        {
            Backend.RmsNorm(embedded.Slice(t * h, h), m.EmbeddingNorm, concat.Slice(t * 2 * h, h), 1, Eps);
            Backend.RmsNorm(hidden.Slice(t * h, h), m.HiddenNorm, concat.Slice(t * 2 * h + h, h), 1, Eps);
        }
        var x = s.X.AsSpan(0, T * h);
        Backend.Linear(m.Projection, concat, x, T);
        RunBlock(m.Block, s, x, batch, 0);

        var normed = s.Normed.AsSpan(0, T * h);
        Backend.RmsNorm(x, m.HeadNorm, normed, T, Eps);
        batch.Head(m.Head, normed);
    }

    /// <summary>x += MLA(RMSNorm(x)); x += FFN(RMSNorm(x)) over every row of the batch, caching this block's rows.</summary>
    private void RunBlock(Block block, Scratch s, Span<float> x, ForwardBatch batch, int blockIndex)
    {
        int h = Config.HiddenSize, T = batch.TokenCount;
        var normed = s.Normed.AsSpan(0, T * h);
        var delta = s.Delta.AsSpan(0, T * h);

        Backend.RmsNorm(x, block.AttentionNorm, normed, T, Eps);
        block.Attention.Forward(Backend, this, normed, delta, batch, batch.CacheLayer(blockIndex), s.Mla);
        TensorPrimitives.Add(x, delta, x);

        Backend.RmsNorm(x, block.FfnNorm, normed, T, Eps);
        if (block.Dense is { } dense) dense.Forward(Backend, normed, delta, T, s.Ffn);
        else block.Moe!.Forward(Backend, normed, delta, T, s.Moe!, s.Ffn);
        TensorPrimitives.Add(x, delta, x);
    }

    private sealed class Scratch : BatchScratch
    {
        public float[] X { get; }
        public float[] Normed { get; }
        public float[] Delta { get; }
        public float[] Concat { get; }
        public MlaScratch Mla { get; }
        public FeedForwardScratch Ffn { get; }
        public MoeScratch? Moe { get; }

        public override float[] FinalHidden => Normed;

        public Scratch(DeepSeekModel model, int maxTokens)
        {
            var c = model.Config;
            int h = c.HiddenSize;
            X = new float[maxTokens * h];
            Normed = new float[maxTokens * h];
            Delta = new float[maxTokens * h];
            Concat = model._mtp.Length == 0 ? [] : new float[maxTokens * 2 * h];
            Mla = new MlaScratch(c, maxTokens, model.Options.Attention);
            bool anyMoe = Enumerable.Range(0, c.NumHiddenLayers + model._mtp.Length).Any(c.IsMoeLayer);
            int widest = Math.Max(c.IntermediateSize, anyMoe ? c.NSharedExperts * c.MoeIntermediateSize : 0);
            Ffn = new FeedForwardScratch(maxTokens, widest);
            Moe = anyMoe ? new MoeScratch(c, maxTokens) : null;
        }
    }
}
