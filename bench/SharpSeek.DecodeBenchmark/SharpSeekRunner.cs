using System.Diagnostics;
using SharpSeek.Model;
using SharpSeek.Tensors.Kernels;

namespace SharpSeek.DecodeBenchmark;

/// <summary>Our engine on one file, measured the way bench.mjs measures llama.cpp (one session, no scheduler).</summary>
internal sealed class SharpSeekRunner : IDisposable
{
    private readonly InferenceSession _session;
    private readonly int[] _prompt, _decode;
    private int _sink;

    /// <param name="model">The file's model (shared with the multi-user engine; not owned).</param>
    public SharpSeekRunner(LanguageModel model, int threads, int[] prompt, int[] decode)
    {
        _prompt = prompt;
        _decode = decode;
        int positions = prompt.Length + decode.Length + 8;
        _session = model.CreateSession(positions, maxBatch: prompt.Length);
        Description = $"SharpSeek, KV {model.Options.KvCacheType}, {threads} threads";
    }

    public string Description { get; }
    public long KvCacheBytesPerToken => _session.KvCacheBytesPerToken;

    /// <summary>Prefill the prompt in one batch (last position's logits), then decode one token per call (logits + greedy pick).</summary>
    public (double Prefill, double Decode) Repeat()
    {
        _session.Reset();
        long t0 = Stopwatch.GetTimestamp();
        _sink += Selection.Argmax(_session.Prefill(_prompt));
        double prefillSeconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        t0 = Stopwatch.GetTimestamp();
        foreach (int token in _decode) _sink += Selection.Argmax(_session.Decode(token));
        double decodeSeconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        return (_prompt.Length / prefillSeconds, _decode.Length / decodeSeconds);
    }

    public void Dispose()
    {
        GC.KeepAlive(_sink);
        _session.Dispose();
    }
}
