using SharpSeek.Distributed;
using SharpSeek.Inference;
using SharpSeek.Model;
using SharpSeek.Reasoning.Tasks;
using SharpSeek.Reasoning.Training;
using SharpSeek.Tensors;
using SharpSeek.Tensors.Backend;
using SharpSeek.Tensors.Threading;
using SharpSeek.Training;

namespace SharpSeek.Reasoning.Generation;

/// <summary>One generation job: a prompt and how to sample its continuation (ending early at any of <paramref name="Stop"/>, which the completion keeps).</summary>
public readonly record struct RolloutRequest(int[] Prompt, float Temperature, ulong Seed, IReadOnlyList<string>? Stop = null);

/// <summary>
/// Samples completions from the current weights of a trainable model through the serving engine: the weights are
/// bound to a <see cref="LanguageModel"/> (rebound by <see cref="Sync"/> after each policy update) and every request of
/// a call goes to one <see cref="InferenceEngine"/>, which runs up to <c>concurrency</c> of them through each forward
/// pass (a GRPO group's G samples of one prompt share their prompt pages). Sampling draws from the policy's own
/// distribution (no output-format rules), with an F32 cache so the rollouts' log-probabilities are the training
/// model's, seeded per request, so results do not depend on how requests are grouped or batched.
/// </summary>
public sealed class RolloutSampler : IDisposable
{
    private readonly TrainableModel<float> _source;
    private readonly ComputePool _pool;
    private readonly ProblemFormat _format;
    private readonly int _maxContext;
    private LanguageModel? _model;
    private ModelWeights? _weights;
    private InferenceEngine? _engine;
    private int _engineConcurrency;

    /// <param name="world">The data-parallel job (one process when null): <see cref="Generate"/> splits each call's
    /// requests over its ranks, and every rank receives every completion.</param>
    public RolloutSampler(TrainableModel<float> source, ComputePool pool, ProblemFormat format, int maxContext, ICommunicator? world = null)
    {
        _source = source;
        _pool = pool;
        _format = format;
        _maxContext = maxContext;
        World = world ?? SingleProcess.Instance;
        Sync();
    }

    public ICommunicator World { get; }

    /// <summary>Rebinds the inference model to the trainable weights (call after every optimizer step that should be sampled from).</summary>
    public void Sync()
    {
        DisposeModel();
        _weights = InferenceWeights.From(_source);
        _model = LanguageModel.Create(_source.Config, _weights, new ModelOptions { Backend = new CpuBackend(_pool), MaxPositions = _maxContext });
    }

    /// <summary>The generated tokens of each request (end-of-sentence included when it was produced).</summary>
    /// <param name="group">Requests that stay together on one rank (a GRPO group, a problem's k samples): under data
    /// parallelism the call's requests are split over the ranks in whole groups (<see cref="RankShare"/>), each rank
    /// generates its share, and the completions are exchanged so every rank returns all of them, in request order.
    /// Requests are seeded one by one, so the completions are the one-process ones whoever draws them. Collective:
    /// every rank passes the same requests.</param>
    public List<int[]> Generate(IReadOnlyList<RolloutRequest> requests, int maxNewTokens, int concurrency = 16, int group = 1)
    {
        if (group < 1 || requests.Count % group != 0)
            throw new ArgumentException($"{requests.Count} requests do not split into groups of {group}");
        foreach (var r in requests)
            if (r.Prompt.Length + maxNewTokens > _maxContext)
                throw new ArgumentException($"a prompt of {r.Prompt.Length} tokens plus {maxNewTokens} new ones exceeds the context of {_maxContext}");
        if (World.Size == 1) return GenerateHere(requests, maxNewTokens, concurrency);
        var (first, count) = RankShare.Of(requests.Count / group, World.Rank, World.Size);
        var mine = count > 0
            ? GenerateHere(requests.Skip(first * group).Take(count * group).ToList(), maxNewTokens, concurrency)
            : [];
        return Exchange(requests.Count, group, mine);
    }

    /// <summary>Every rank's completions to every rank: their lengths by an all-reduce (each rank fills its own), then the tokens by an all-gather.</summary>
    private List<int[]> Exchange(int requests, int group, List<int[]> mine)
    {
        var lengths = new long[requests];
        var (myFirst, _) = RankShare.Of(requests / group, World.Rank, World.Size);
        for (int i = 0; i < mine.Count; i++) lengths[myFirst * group + i] = mine[i].Length;
        World.AllReduceSum(lengths);
        var counts = new int[World.Size];
        for (int r = 0; r < World.Size; r++)
        {
            var (first, count) = RankShare.Of(requests / group, r, World.Size);
            long tokens = 0;
            for (int i = first * group; i < (first + count) * group; i++) tokens += lengths[i];
            counts[r] = checked((int)tokens);
        }
        var send = new int[counts[World.Rank]];
        int at = 0;
        foreach (var completion in mine)
        {
            completion.CopyTo(send, at);
            at += completion.Length;
        }
        var all = new int[counts.Sum()];
        World.AllGatherV(send, all, counts);
        var result = new List<int[]>(requests);
        at = 0;
        for (int i = 0; i < requests; i++)
        {
            result.Add(all.AsSpan(at, (int)lengths[i]).ToArray());
            at += (int)lengths[i];
        }
        return result;
    }

    private List<int[]> GenerateHere(IReadOnlyList<RolloutRequest> requests, int maxNewTokens, int concurrency)
    {
        var model = _model ?? throw new ObjectDisposedException(nameof(RolloutSampler));
        var engine = Engine(model, concurrency);
        var streams = new GenerationStream[requests.Count];
        for (int i = 0; i < requests.Count; i++)
        {
            var r = requests[i];
            var request = new GenerationRequest
            {
                PromptTokens = r.Prompt,
                MaxTokens = maxNewTokens,
                Sampling = new SamplingSettings { Temperature = Math.Max(r.Temperature, 0f), Seed = r.Seed },
                RawSampling = true,
                ReturnTokens = true,
                StopStrings = r.Stop ?? [],
            };
            if (!engine.TrySubmit(request, CancellationToken.None, out var stream))
                throw new InvalidOperationException("the rollout engine refused a request"); // its queue holds every request of a call
            streams[i] = stream;
        }
        var results = new List<int[]>(requests.Count);
        foreach (var stream in streams)
        {
            var result = stream.CollectAsync().GetAwaiter().GetResult();
            if (result.FinishReason == FinishReason.Error) throw new InvalidOperationException($"rollout failed: {result.Error}");
            results.Add(result.Tokens ?? []);
        }
        return results;
    }

    /// <summary>One engine per bound model; remade when the model or the wanted concurrency changes.</summary>
    private InferenceEngine Engine(LanguageModel model, int concurrency)
    {
        if (_engine is not null && _engine.Model == model && _engineConcurrency == concurrency) return _engine;
        _engine?.Dispose();
        _engineConcurrency = concurrency;
        _engine = new InferenceEngine(model, _format.Tokenizer, "rollout", new EngineOptions
        {
            MaxConcurrentSequences = concurrency,
            MaxQueuedRequests = 1 << 20,
            MaxContext = _maxContext,
            MaxBatchTokens = Math.Max(512, 2 * concurrency),
            KvCacheType = DType.F32,
            SpeculativeDecoding = false,
            MaxQueueWait = TimeSpan.FromDays(1),
        }, new ContextCache(new ContextCacheOptions { MemoryBytes = 64L << 20 }));
        return _engine;
    }

    private void DisposeModel()
    {
        _engine?.Dispose();
        _engine?.Cache?.Dispose();
        _engine = null;
        _model?.Dispose();
        _weights?.Dispose();
        _model = null;
        _weights = null;
    }

    public void Dispose() => DisposeModel();
}
