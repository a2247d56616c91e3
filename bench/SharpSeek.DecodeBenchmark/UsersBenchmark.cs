using System.Diagnostics;
using SharpSeek.Inference;
using SharpSeek.Model;
using SharpSeek.Tokenizer;

namespace SharpSeek.DecodeBenchmark;

/// <summary>One llama_decode call llama.cpp made during a multi-user run: sequences and tokens in its batch, and its time.</summary>
internal sealed record DecodeCall(int Sequences, int Tokens, double Seconds);

/// <summary>
/// One multi-user run of one engine: every user's first- and last-token time and the times of all generated tokens, in
/// seconds from the common arrival; for llama.cpp also every llama_decode call.
/// </summary>
internal sealed record UsersRun(double[] FirstToken, double[] LastToken, double[] TokenTimes, int[] TokensPerUser, DecodeCall[]? Calls = null)
{
    public int Users => FirstToken.Length;
    public int TotalTokens => TokensPerUser.Sum();
    /// <summary>From the arrival to the last user's last token.</summary>
    public double WallSeconds => LastToken.Max();
    /// <summary>All users' generated tokens over the wall time.</summary>
    public double Throughput => TotalTokens / WallSeconds;
    public double TtftMedian => SharpSeek.Tensors.Diagnostics.Statistics.Median(FirstToken);
    public double TtftWorst => FirstToken.Max();

    /// <summary>
    /// The decode phase runs from the moment every user has its first token to the last token; its rate is the tokens
    /// generated in it over its length (NaN when it is empty). Tokens some users generated before the slowest user's first
    /// token (an engine that decodes while others still prefill) are not counted in it.
    /// </summary>
    public double DecodeRate
    {
        get
        {
            double start = TtftWorst, end = WallSeconds;
            // Every user's first token is at or before start; TokenTimes may lag the true times slightly (SharpSeek's are
            // sampled), so never count fewer than those.
            int before = Math.Max(Users, TokenTimes.Count(t => t <= start));
            int inPhase = TotalTokens - before;
            return end - start > 1e-6 && inPhase > 0 ? inPhase / (end - start) : double.NaN;
        }
    }

    /// <summary>llama.cpp's decode steps (calls of one token per sequence, after the prompts): their median seconds.</summary>
    public double? MedianStepSeconds(int sequences)
    {
        var steps = Calls?.Where(c => c.Tokens == c.Sequences && c.Sequences == sequences).Select(c => c.Seconds).ToArray();
        return steps is { Length: > 0 } ? SharpSeek.Tensors.Diagnostics.Statistics.Median(steps) : null;
    }
}

/// <summary>The engine options of the multi-user section: the one place that builds them.</summary>
internal static class UsersEngineOptions
{
    /// <param name="maxUsers">The most users of any run: every user gets a sequence slot at once, none waits in the queue.</param>
    /// <param name="contextPerUser">Positions one user needs (prompt + generated tokens, with room to spare).</param>
    public static EngineOptions For(int maxUsers, int contextPerUser) => new()
    {
        MaxConcurrentSequences = maxUsers,
        MaxQueuedRequests = maxUsers,
        MaxContext = contextPerUser,
        MaxQueueWait = TimeSpan.FromHours(1),
        SpeculativeDecoding = false,
        // The engine's defaults otherwise: one forward pass per step over every user, up to 512 rows (so up to ten
        // 48-token prompts share the first pass), prefill chunks of 256, F16 KV pages sized for every slot.
    };
}

/// <summary>
/// Our engine under many users at once, through <see cref="InferenceEngine"/>'s public API only: N requests submitted
/// together (distinct prompts, greedy, exactly D tokens each, no context cache), timed by the engine's own result timings.
/// </summary>
internal sealed class SharpSeekUsersRunner : IDisposable
{
    private readonly InferenceEngine _engine;
    private readonly int[][] _prompts;
    private readonly int _userTokens;

    public SharpSeekUsersRunner(LanguageModel model, ByteLevelBpeTokenizer tokenizer, string identity, int[][] prompts, int userTokens, int maxUsers)
    {
        _prompts = prompts;
        _userTokens = userTokens;
        Options = UsersEngineOptions.For(maxUsers, prompts.Max(p => p.Length) + userTokens + 8);
        _engine = new InferenceEngine(model, tokenizer, identity, Options, cache: null);
        // Every slot's session made once, outside the measured runs (llama.cpp likewise sets up its context before): one
        // token per user, one token out.
        Collect(Enumerable.Range(0, maxUsers).Select(i => Request([prompts[i][0]], 1)).ToArray());
    }

    public EngineOptions Options { get; }
    public string Description => $"SharpSeek InferenceEngine, {Options.MaxConcurrentSequences} slots, {Options.MaxBatchTokens} rows per pass, prefill chunk {Options.PrefillChunkTokens}, KV {Options.KvCacheType}";

    private static GenerationRequest Request(int[] prompt, int tokens) => new()
    {
        PromptTokens = prompt,
        MaxTokens = tokens,
        IgnoreEndOfSequence = true,
        Sampling = new SamplingSettings { Temperature = 0 },
        UseContextCache = false,
    };

    /// <summary>Users 1..<paramref name="users"/> arrive together; each generates the set number of tokens.</summary>
    public UsersRun Run(int users)
    {
        var requests = Enumerable.Range(0, users).Select(i => Request(_prompts[i], _userTokens)).ToArray();
        using var counter = new TokenCounter(_engine);
        var (results, submitted, arrival) = Collect(requests);
        counter.Stop();
        var first = new double[users];
        var last = new double[users];
        var tokens = new int[users];
        for (int i = 0; i < users; i++)
        {
            var r = results[i];
            if (r.FinishReason != FinishReason.Length || r.Usage.CompletionTokens != _userTokens)
                throw new InvalidOperationException($"user {i} ended with {r.FinishReason} after {r.Usage.CompletionTokens} of {_userTokens} tokens{(r.Error is null ? "" : $": {r.Error}")}");
            double at = Stopwatch.GetElapsedTime(arrival, submitted[i]).TotalSeconds;
            first[i] = at + (r.QueueTime + r.TimeToFirstToken).TotalSeconds;
            last[i] = at + (r.QueueTime + r.GenerationTime).TotalSeconds;
            tokens[i] = r.Usage.CompletionTokens;
        }
        return new UsersRun(first, last, counter.TokenTimes(arrival, tokens.Sum()), tokens);
    }

    private (GenerationResult[] Results, long[] Submitted, long Arrival) Collect(GenerationRequest[] requests)
    {
        var streams = new GenerationStream[requests.Length];
        var submitted = new long[requests.Length];
        long arrival = Stopwatch.GetTimestamp();
        for (int i = 0; i < requests.Length; i++)
        {
            submitted[i] = Stopwatch.GetTimestamp();
            if (!_engine.TrySubmit(requests[i], CancellationToken.None, out var stream))
                throw new InvalidOperationException($"the engine refused user {i} of {requests.Length}");
            streams[i] = stream;
        }
        var results = Task.WhenAll(streams.Select(s => s.CollectAsync())).GetAwaiter().GetResult();
        return (results, submitted, arrival);
    }

    public void Dispose() => _engine.Dispose();

    /// <summary>
    /// Samples the engine's generated-token counter every millisecond, so that the decode phase can be told apart from
    /// prefill without per-token timestamps (text deltas may be held back, so they are not token times).
    /// </summary>
    private sealed class TokenCounter : IDisposable
    {
        private readonly InferenceEngine _engine;
        private readonly long _base;
        private readonly List<(long At, long Count)> _samples = new(1 << 16);
        private readonly Thread _thread;
        private volatile bool _stop;

        public TokenCounter(InferenceEngine engine)
        {
            _engine = engine;
            _base = engine.GeneratedTokens;
            _thread = new Thread(Loop) { IsBackground = true, Name = "users-token-counter" };
            _thread.Start();
        }

        private void Loop()
        {
            long seen = 0;
            while (!_stop)
            {
                long n = _engine.GeneratedTokens - _base;
                if (n != seen) { _samples.Add((Stopwatch.GetTimestamp(), n)); seen = n; }
                Thread.Sleep(1);
            }
            long final = _engine.GeneratedTokens - _base;
            if (final != seen) _samples.Add((Stopwatch.GetTimestamp(), final));
        }

        public void Stop()
        {
            _stop = true;
            _thread.Join();
        }

        /// <summary>A time (seconds from <paramref name="arrival"/>) per generated token: when the sample first saw it.</summary>
        public double[] TokenTimes(long arrival, int total)
        {
            var times = new List<double>(total);
            long previous = 0;
            foreach (var (at, count) in _samples)
            {
                double t = Stopwatch.GetElapsedTime(arrival, at).TotalSeconds;
                for (long k = previous; k < Math.Min(count, total); k++) times.Add(t);
                previous = Math.Max(previous, count);
            }
            if (times.Count != total) throw new InvalidOperationException($"the engine counted {times.Count} generated tokens, the results {total}");
            return times.ToArray();
        }

        public void Dispose() => Stop();
    }
}
