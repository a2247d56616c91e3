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

    private sealed class Block(Tensor attentionNorm, Tensor ffnNorm, MlaAttention attention, DenseFeedForward? dense, MoeFeedForward? moe)
    {
        public Tensor AttentionNorm { get; } = attentionNorm;
        public Tensor FfnNorm { get; } = ffnNorm;
        public MlaAttention Attention { get; } = attention;
        public DenseFeedForward? Dense { get; } = dense;
        public MoeFeedForward? Moe { get; } = moe;
    }

    private sealed class MtpLayer(Tensor embeddingNorm, Tensor hiddenNorm, Tensor projection, Tensor headNorm, Tensor embedding, Tensor head, Block block)
    {
        public Tensor EmbeddingNorm { get; } = embeddingNorm;
        public Tensor HiddenNorm { get; } = hiddenNorm;
        public Tensor Projection { get; } = projection;
        public Tensor HeadNorm { get; } = headNorm;
        public Tensor Embedding { get; } = embedding;
        public Tensor Head { get; } = head;
        public Block Block { get; } = block;
    }

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

    internal override SessionState CreateState(int maxContext, int maxBatch) => new State(this, maxContext, maxBatch);

    internal override void Forward(SessionState state, ReadOnlySpan<int> tokens, int firstPosition, Span<float> logits, LogitsFor which, Span<float> hiddenOut)
    {
        var s = (State)state;
        int T = tokens.Length, h = Config.HiddenSize;
        var x = s.X.AsSpan(0, T * h);
        Backend.Embed(_embedding, tokens, x);
        for (int l = 0; l < _blocks.Length; l++) RunBlock(_blocks[l], s, x, T, firstPosition, s.Main, l);

        var normed = s.Normed.AsSpan(0, T * h);
        Backend.RmsNorm(x, _finalNorm, normed, T, Eps);
        if (!hiddenOut.IsEmpty) normed.CopyTo(hiddenOut);
        Head(_head, normed, T, logits, which);
    }

    internal override void ForwardMtp(SessionState state, int depth, ReadOnlySpan<float> hidden, ReadOnlySpan<int> nextTokens, int firstPosition,
        Span<float> logits, LogitsFor which, Span<float> hiddenOut)
    {
        var s = (State)state;
        var m = _mtp[depth];
        int T = nextTokens.Length, h = Config.HiddenSize;

        // eh_proj input per token: [enorm(embedding of the next token) | hnorm(previous hidden)], embedding first as in
        // the released checkpoint (the paper writes the other order).
        var embedded = s.Normed.AsSpan(0, T * h);
        Backend.Embed(m.Embedding, nextTokens, embedded);
        var concat = s.Concat.AsSpan(0, T * 2 * h);
        for (int t = 0; t < T; t++)
        {
            Backend.RmsNorm(embedded.Slice(t * h, h), m.EmbeddingNorm, concat.Slice(t * 2 * h, h), 1, Eps);
            Backend.RmsNorm(hidden.Slice(t * h, h), m.HiddenNorm, concat.Slice(t * 2 * h + h, h), 1, Eps);
        }
        var x = s.X.AsSpan(0, T * h);
        Backend.Linear(m.Projection, concat, x, T);
        RunBlock(m.Block, s, x, T, firstPosition, s.Mtp!, depth);

        var normed = s.Normed.AsSpan(0, T * h);
        Backend.RmsNorm(x, m.HeadNorm, normed, T, Eps);
        if (!hiddenOut.IsEmpty) normed.CopyTo(hiddenOut);
        Head(m.Head, normed, T, logits, which);
    }

    /// <summary>x += MLA(RMSNorm(x)); x += FFN(RMSNorm(x)), caching this block's keys at positions firstPosition….</summary>
    private void RunBlock(Block block, State s, Span<float> x, int T, int firstPosition, KvCache cache, int cacheLayer)
    {
        int h = Config.HiddenSize;
        var normed = s.Normed.AsSpan(0, T * h);
        var delta = s.Delta.AsSpan(0, T * h);

        Backend.RmsNorm(x, block.AttentionNorm, normed, T, Eps);
        block.Attention.Forward(Backend, Rope, normed, delta, T, firstPosition, cache, cacheLayer, s.Mla);
        TensorPrimitives.Add(x, delta, x);

        Backend.RmsNorm(x, block.FfnNorm, normed, T, Eps);
        if (block.Dense is { } dense) dense.Forward(Backend, normed, delta, T, s.Ffn);
        else block.Moe!.Forward(Backend, normed, delta, T, s.Moe!, s.Ffn);
        TensorPrimitives.Add(x, delta, x);
    }

    private sealed class State : SessionState
    {
        public KvCache Main { get; }
        public KvCache? Mtp { get; }
        public float[] X { get; }
        public float[] Normed { get; }
        public float[] Delta { get; }
        public float[] Concat { get; }
        public MlaScratch Mla { get; }
        public FeedForwardScratch Ffn { get; }
        public MoeScratch? Moe { get; }

        public override KvCache Cache => Main;

        public State(DeepSeekModel model, int maxContext, int maxBatch)
        {
            var c = model.Config;
            var (keyWidth, valueWidth) = model._blocks[0].Attention.CacheRowWidths;
            Main = new KvCache(c.NumHiddenLayers, maxContext, keyWidth, valueWidth);
            Mtp = model._mtp.Length > 0 ? new KvCache(model._mtp.Length, maxContext, keyWidth, valueWidth) : null;
            int h = c.HiddenSize;
            X = new float[maxBatch * h];
            Normed = new float[maxBatch * h];
            Delta = new float[maxBatch * h];
            Concat = Mtp is null ? [] : new float[maxBatch * 2 * h];
            Mla = new MlaScratch(c, maxBatch, model.Options.Attention);
            bool anyMoe = Enumerable.Range(0, c.NumHiddenLayers + model._mtp.Length).Any(c.IsMoeLayer);
            int widest = Math.Max(c.IntermediateSize, anyMoe ? c.NSharedExperts * c.MoeIntermediateSize : 0);
            Ffn = new FeedForwardScratch(maxBatch, widest);
            Moe = anyMoe ? new MoeScratch(c, maxBatch) : null;
        }

        public override void Dispose()
        {
            Main.Dispose();
            Mtp?.Dispose();
        }
    }
}
