using SharpSeek.Model;
using SharpSeek.Tensors.Backend;
using SharpSeek.Tensors.Kernels;
using SharpSeek.Tensors.Threading;
using SharpSeek.Training;

namespace SharpSeek.Reasoning.Generation;

/// <summary>One generation job: a prompt and how to sample its continuation.</summary>
public readonly record struct RolloutRequest(int[] Prompt, float Temperature, ulong Seed);

/// <summary>
/// Samples completions from the current weights of a trainable model through the inference stack: the weights are
/// bound to a <see cref="LanguageModel"/> (synced by <see cref="Sync"/> after each policy update), every sequence
/// gets an <see cref="InferenceSession"/> with its own KV cache, and all active sequences advance one token per round
/// (prefill once, then cached single-token decode) until each emits end-of-sentence or reaches the token limit.
/// Sampling is seeded per request, so results do not depend on how requests are grouped.
/// </summary>
public sealed class RolloutSampler : IDisposable
{
    private readonly TrainableModel<float> _source;
    private readonly ComputePool _pool;
    private readonly int _maxContext;
    private readonly Stack<InferenceSession> _idle = new();
    private LanguageModel? _model;
    private ModelWeights? _weights;

    public RolloutSampler(TrainableModel<float> source, ComputePool pool, int endOfSentence, int maxContext)
    {
        _source = source;
        _pool = pool;
        _maxContext = maxContext;
        EndOfSentence = endOfSentence;
        Sync();
    }

    public int EndOfSentence { get; }

    /// <summary>Rebinds the inference model to the trainable weights (call after every optimizer step that should be sampled from).</summary>
    public void Sync()
    {
        DisposeModel();
        _weights = InferenceWeights.From(_source);
        _model = LanguageModel.Create(_source.Config, _weights, new ModelOptions { Backend = new CpuBackend(_pool), MaxPositions = _maxContext });
    }

    /// <summary>The generated tokens of each request (end-of-sentence included when it was produced).</summary>
    public List<int[]> Generate(IReadOnlyList<RolloutRequest> requests, int maxNewTokens, int concurrency = 16)
    {
        var model = _model ?? throw new ObjectDisposedException(nameof(RolloutSampler));
        int vocab = model.Config.VocabSize;
        var results = new int[requests.Count][];
        var sampler = new Sampler(vocab, new SamplingOptions(1f));
        var active = new List<Sequence>(concurrency);
        int next = 0;
        while (next < requests.Count || active.Count > 0)
        {
            while (active.Count < concurrency && next < requests.Count)
            {
                var request = requests[next];
                if (request.Prompt.Length + maxNewTokens > _maxContext)
                    throw new ArgumentException($"a prompt of {request.Prompt.Length} tokens plus {maxNewTokens} new ones exceeds the context of {_maxContext}");
                var session = _idle.Count > 0 ? _idle.Pop() : model.CreateSession(_maxContext, 64);
                session.Reset();
                var logits = session.Prefill(request.Prompt);
                var seq = new Sequence(next, session, request, maxNewTokens);
                seq.Choose(logits, sampler, vocab);
                active.Add(seq);
                next++;
            }
            for (int i = active.Count - 1; i >= 0; i--)
            {
                var seq = active[i];
                if (seq.Done(EndOfSentence))
                {
                    results[seq.Index] = seq.Tokens.ToArray();
                    _idle.Push(seq.Session);
                    active.RemoveAt(i);
                    continue;
                }
                seq.Choose(seq.Session.Decode(seq.Tokens[^1]), sampler, vocab);
            }
        }
        return [.. results];
    }

    private sealed class Sequence(int index, InferenceSession session, RolloutRequest request, int maxNewTokens)
    {
        private DeterministicRandom _rng = new(request.Seed);

        public int Index { get; } = index;
        public InferenceSession Session { get; } = session;
        public List<int> Tokens { get; } = new(maxNewTokens);

        public bool Done(int eos) => Tokens.Count >= maxNewTokens || (Tokens.Count > 0 && Tokens[^1] == eos);

        public void Choose(ReadOnlySpan<float> logits, Sampler sampler, int vocab)
        {
            double u = _rng.NextDouble();
            if (request.Temperature <= 0)
            {
                Tokens.Add(Selection.Argmax(logits[..vocab]));
                return;
            }
            // The shared sampler works at temperature 1; scale the logits here so one sampler serves every request.
            Span<float> scaled = vocab <= 4096 ? stackalloc float[vocab] : new float[vocab];
            System.Numerics.Tensors.TensorPrimitives.Multiply(logits[..vocab], 1f / request.Temperature, scaled);
            Tokens.Add(sampler.Sample(scaled, u));
        }
    }

    private void DisposeModel()
    {
        while (_idle.Count > 0) _idle.Pop().Dispose();
        _model?.Dispose();
        _weights?.Dispose();
        _model = null;
        _weights = null;
    }

    public void Dispose() => DisposeModel();
}
