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

    private sealed record Block(Tensor AttentionNorm, Tensor FfnNorm, GroupedQueryAttention Attention, DenseFeedForward Ffn);

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

    public override (int Keys, int Values) CacheRowWidths => (_blocks[0].Attention.CacheRowWidth, _blocks[0].Attention.CacheRowWidth);

    internal override BatchScratch CreateScratch(int maxTokens) => new Scratch(Config, maxTokens);

    internal override void Forward(ForwardBatch batch)
    {
        var s = (Scratch)batch.Scratch;
        int T = batch.TokenCount, h = Config.HiddenSize;
        var x = s.X.AsSpan(0, T * h);
        var normed = s.Normed.AsSpan(0, T * h);
        var delta = s.Delta.AsSpan(0, T * h);
        Backend.Embed(_embedding, batch.Tokens, x);
        for (int l = 0; l < _blocks.Length; l++)
        {
            var block = _blocks[l];
            Backend.RmsNorm(x, block.AttentionNorm, normed, T, Eps);
            block.Attention.Forward(Backend, this, normed, delta, batch, l, s.Attention);
            TensorPrimitives.Add(x, delta, x);

            Backend.RmsNorm(x, block.FfnNorm, normed, T, Eps);
            block.Ffn.Forward(Backend, normed, delta, T, s.Ffn);
            TensorPrimitives.Add(x, delta, x);
        }
        Backend.RmsNorm(x, _finalNorm, normed, T, Eps);
        batch.Head(_head, normed);
    }

    private sealed class Scratch : BatchScratch
    {
        public float[] X { get; }
        public float[] Normed { get; }
        public float[] Delta { get; }
        public GqaScratch Attention { get; }
        public FeedForwardScratch Ffn { get; }

        public override float[] FinalHidden => Normed;

        public Scratch(ModelConfig c, int maxTokens)
        {
            int h = c.HiddenSize;
            X = new float[maxTokens * h];
            Normed = new float[maxTokens * h];
            Delta = new float[maxTokens * h];
            Attention = new GqaScratch(c, maxTokens);
            Ffn = new FeedForwardScratch(maxTokens, c.IntermediateSize);
        }
    }
}
