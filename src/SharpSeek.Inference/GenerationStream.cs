using System.Threading.Channels;

namespace SharpSeek.Inference;

/// <summary>
/// A submitted generation as its caller sees it: <see cref="Started"/> completes when the request leaves the queue
/// and gets a sequence slot, <see cref="Deltas"/> yields text as it becomes final (reasoning before content), and
/// <see cref="Completion"/> gives the totals. Cancelling the token given at submission (or <see cref="Cancel"/>)
/// stops the generation before the engine's next step.
/// </summary>
public sealed class GenerationStream
{
    private readonly Channel<GenerationDelta> _deltas = Channel.CreateUnbounded<GenerationDelta>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = true, AllowSynchronousContinuations = false });
    private readonly TaskCompletionSource<bool> _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<GenerationResult> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly InferenceEngine _engine;
    private int _cancelled;

    internal GenerationStream(InferenceEngine engine, GenerationRequest request, long id)
    {
        _engine = engine;
        Request = request;
        Id = id;
        SubmittedAt = System.Diagnostics.Stopwatch.GetTimestamp();
    }

    public long Id { get; }
    public GenerationRequest Request { get; }
    internal long SubmittedAt { get; }
    internal CancellationTokenRegistration Registration { get; set; }

    /// <summary>True once the request got a slot (it completes with false when the request ended without starting).</summary>
    public Task<bool> Started => _started.Task;
    public ChannelReader<GenerationDelta> Deltas => _deltas.Reader;
    public Task<GenerationResult> Completion => _completion.Task;
    public bool IsCancelled => Volatile.Read(ref _cancelled) != 0;

    /// <summary>Asks the engine to stop this generation; it ends with <see cref="FinishReason.Cancelled"/>.</summary>
    public void Cancel()
    {
        if (Interlocked.Exchange(ref _cancelled, 1) == 0) _engine.NotifyCancelled(this);
    }

    internal void MarkStarted() => _started.TrySetResult(true);

    internal void Write(in GenerationDelta delta) => _deltas.Writer.TryWrite(delta);

    internal void Finish(GenerationResult result)
    {
        Registration.Dispose();
        _started.TrySetResult(false);
        _deltas.Writer.TryComplete();
        _completion.TrySetResult(result);
    }

    /// <summary>Reads every delta to the end and returns the result (for non-streaming callers).</summary>
    public async Task<GenerationResult> CollectAsync(CancellationToken cancellationToken = default)
    {
        await foreach (var _ in _deltas.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false)) { }
        return await Completion.ConfigureAwait(false);
    }
}
