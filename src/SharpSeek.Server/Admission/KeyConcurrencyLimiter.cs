using System.Collections.Concurrent;

namespace SharpSeek.Server.Admission;

/// <summary>
/// A gate per API account in front of the engine: at most <c>running</c> of its requests are in the engine at once
/// (generating or holding an engine queue place); up to <c>queued</c> more wait here, in arrival order; past that, 429.
/// So one account's flood fills its own gate, never every engine slot and queue place.
/// </summary>
public sealed class KeyConcurrencyLimiter(int running, int queued)
{
    internal sealed class Gate
    {
        public int Active;
        public readonly LinkedList<Lease> Waiting = new();
    }

    /// <summary>A place at an account's gate: <see cref="Ready"/> completes once it may enter the engine; dispose to leave (waiting or not).</summary>
    public sealed class Lease : IDisposable
    {
        private readonly KeyConcurrencyLimiter _owner;
        internal readonly Gate Gate;
        internal readonly TaskCompletionSource Entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        internal LinkedListNode<Lease>? Node;
        internal bool Active, Left;

        internal Lease(KeyConcurrencyLimiter owner, Gate gate)
        {
            _owner = owner;
            Gate = gate;
        }

        public Task Ready => Entered.Task;
        public void Dispose() => _owner.Leave(this);
    }

    private readonly ConcurrentDictionary<long, Gate> _gates = new();
    private int _waiting;

    public int RunningPerKey => running;
    public int QueuedPerKey => queued;
    /// <summary>Requests waiting at some account's gate now.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>A place at <paramref name="accountId"/>'s gate, or null when its running and queued places are all taken.</summary>
    public Lease? TryEnter(long accountId)
    {
        var gate = _gates.GetOrAdd(accountId, _ => new Gate());
        var lease = new Lease(this, gate);
        lock (gate)
        {
            if (gate.Active < running && gate.Waiting.Count == 0)
            {
                gate.Active++;
                lease.Active = true;
                lease.Entered.SetResult();
            }
            else if (gate.Waiting.Count < queued)
            {
                lease.Node = gate.Waiting.AddLast(lease);
                Interlocked.Increment(ref _waiting);
            }
            else return null;
        }
        return lease;
    }

    private void Leave(Lease lease)
    {
        var gate = lease.Gate;
        lock (gate)
        {
            if (lease.Left) return;
            lease.Left = true;
            if (!lease.Active)
            {
                gate.Waiting.Remove(lease.Node!);
                Interlocked.Decrement(ref _waiting);
                return;
            }
            gate.Active--;
            while (gate.Active < running && gate.Waiting.First is { } next)
            {
                gate.Waiting.RemoveFirst();
                Interlocked.Decrement(ref _waiting);
                next.Value.Active = true;
                gate.Active++;
                next.Value.Entered.SetResult();
            }
        }
    }
}
