using System.Diagnostics;
using SharpSeek.Checkpoints;
using SharpSeek.Model;
using SharpSeek.Tensors.Backend;
using SharpSeek.Tensors.Kernels;
using SharpSeek.Tensors.Threading;

namespace SharpSeek.DecodeBenchmark;

/// <summary>Our engine on one file, measured the way bench.mjs measures llama.cpp.</summary>
internal sealed class SharpSeekRunner : IDisposable
{
    private readonly ComputePool _pool;
    private readonly LanguageModel _model;
    private readonly InferenceSession _session;
    private readonly int[] _prompt, _decode;
    private int _sink;

    public SharpSeekRunner(Checkpoint checkpoint, int[] prompt, int[] decode, int threads)
    {
        _prompt = prompt;
        _decode = decode;
        _pool = new ComputePool(threads);
        int positions = prompt.Length + decode.Length + 8;
        _model = checkpoint.CreateModel(new ModelOptions { Backend = new CpuBackend(_pool), MaxPositions = positions });
        _session = _model.CreateSession(positions, maxBatch: prompt.Length);
        Description = $"SharpSeek, KV F32, {_pool.ThreadCount} threads";
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
        _model.Dispose();
        _pool.Dispose();
    }
}
