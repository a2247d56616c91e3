using System.Numerics.Tensors;
using SharpSeek.Tensors;
using Tensor = SharpSeek.Tensors.Tensor;
using SharpSeek.Tensors.Kernels;

namespace SharpSeek.Model;

/// <summary>
/// Qwen2 / Llama forward pass (DeepSeek's R1-Distill models):
/// <code>
///   x = embed(tokens)
///   for each block:  x += GQA(RMSNorm(x));  x += SwiGLU(RMSNorm(x))
///   logits = head(RMSNorm(x))            (head = embedding when tie_word_embeddings)
/// </code>
/// </summary>
internal sealed class DenseTransformerModel : LanguageModel
{
    private readonly Tensor _embedding, _finalNorm, _head;
    private readonly Block[] _blocks;

    private sealed class Block(Tensor attentionNorm, Tensor ffnNorm, GroupedQueryAttention attention, DenseFeedForward ffn)
    {
        public Tensor AttentionNorm { get; } = attentionNorm;
        public Tensor FfnNorm { get; } = ffnNorm;
        public GroupedQueryAttention Attention { get; } = attention;
        public DenseFeedForward Ffn { get; } = ffn;
    }

    public DenseTransformerModel(ModelConfig config, ModelWeights w, ModelOptions options)
        : base(config, options, options.DenseRopeLayout ?? RopeLayout.Halves)
    {
        int h = config.HiddenSize, v = config.VocabSize;
        _embedding = w.Get(WeightNames.Embedding, v, h);
        _finalNorm = F32Vector(w, WeightNames.FinalNorm, h);
        _head = config.TieWordEmbeddings ? _embedding : w.Get(WeightNames.OutputHead, v, h);
        _blocks = new Block[config.NumHiddenLayers];
        for (int l = 0; l < _blocks.Length; l++)
            _blocks[l] = new Block(
                F32Vector(w, WeightNames.AttentionNorm(l), h),
                F32Vector(w, WeightNames.FfnNorm(l), h),
                new GroupedQueryAttention(this, w, l),
                new DenseFeedForward(w, WeightNames.DenseGate(l), WeightNames.DenseUp(l), WeightNames.DenseDown(l), h, config.IntermediateSize));
    }

    internal override SessionState CreateState(int maxContext, int maxBatch) => new State(this, maxContext, maxBatch);

    internal override void Forward(SessionState state, ReadOnlySpan<int> tokens, int firstPosition, Span<float> logits, LogitsFor which, Span<float> hiddenOut)
    {
        var s = (State)state;
        int T = tokens.Length, h = Config.HiddenSize;
        var x = s.X.AsSpan(0, T * h);
        var normed = s.Normed.AsSpan(0, T * h);
        var delta = s.Delta.AsSpan(0, T * h);
        Backend.Embed(_embedding, tokens, x);
        for (int l = 0; l < _blocks.Length; l++)
        {
            var block = _blocks[l];
            Backend.RmsNorm(x, block.AttentionNorm, normed, T, Eps);
            block.Attention.Forward(Backend, Rope, normed, delta, T, firstPosition, s.Cache, l, s.Query, s.Heads);
            TensorPrimitives.Add(x, delta, x);

            Backend.RmsNorm(x, block.FfnNorm, normed, T, Eps);
            block.Ffn.Forward(Backend, normed, delta, T, s.Ffn);
            TensorPrimitives.Add(x, delta, x);
        }
        Backend.RmsNorm(x, _finalNorm, normed, T, Eps);
        if (!hiddenOut.IsEmpty) normed.CopyTo(hiddenOut);
        Head(_head, normed, T, logits, which);
    }

    private sealed class State : SessionState
    {
        private readonly KvCache _cache;
        public float[] X { get; }
        public float[] Normed { get; }
        public float[] Delta { get; }
        public float[] Query { get; }
        public float[] Heads { get; }
        public FeedForwardScratch Ffn { get; }

        public override KvCache Cache => _cache;

        public State(DenseTransformerModel model, int maxContext, int maxBatch)
        {
            var c = model.Config;
            int width = model._blocks[0].Attention.CacheRowWidth;
            _cache = new KvCache(c.NumHiddenLayers, maxContext, width, width);
            int h = c.HiddenSize, qWidth = c.NumAttentionHeads * c.AttentionHeadDim;
            X = new float[maxBatch * h];
            Normed = new float[maxBatch * h];
            Delta = new float[maxBatch * h];
            Query = new float[maxBatch * qWidth];
            Heads = new float[maxBatch * qWidth];
            Ffn = new FeedForwardScratch(maxBatch, c.IntermediateSize);
        }

        public override void Dispose() => _cache.Dispose();
    }
}
