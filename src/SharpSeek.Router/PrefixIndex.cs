namespace SharpSeek.Router;

/// <summary>
/// Which replica last served each prompt block (by its chained key), learned from where the router sent requests.
/// Bounded: past <see cref="Capacity"/> entries the oldest half is forgotten, a cheap stand-in for the replicas' own
/// eviction. Thread-safe.
/// </summary>
public sealed class PrefixIndex(int capacity = 1 << 20)
{
    private readonly Dictionary<ulong, (int Replica, long Stamp)> _owner = [];
    private readonly Lock _gate = new();
    private long _clock;

    public int Capacity { get; } = capacity;

    public int Count { get { lock (_gate) return _owner.Count; } }

    /// <summary>For each replica, how many leading blocks of <paramref name="keys"/> it is known to hold.</summary>
    public int[] MatchedBlocks(ReadOnlySpan<ulong> keys, int replicas)
    {
        var matched = new int[replicas];
        lock (_gate)
        {
            // A chained key names the whole prefix, so the replica owning block i holds blocks 0 … i.
            for (int i = keys.Length - 1; i >= 0; i--)
                if (_owner.TryGetValue(keys[i], out var o) && o.Replica < replicas && matched[o.Replica] == 0)
                    matched[o.Replica] = i + 1;
        }
        return matched;
    }

    /// <summary>Records that <paramref name="replica"/> now holds every block of <paramref name="keys"/>.</summary>
    public void Record(ReadOnlySpan<ulong> keys, int replica)
    {
        lock (_gate)
        {
            long stamp = ++_clock;
            foreach (ulong k in keys) _owner[k] = (replica, stamp);
            if (_owner.Count <= Capacity) return;
            long median = _owner.Values.Select(v => v.Stamp).Order().ElementAt(_owner.Count / 2);
            foreach (var k in _owner.Where(kv => kv.Value.Stamp <= median).Select(kv => kv.Key).ToList()) _owner.Remove(k);
        }
    }

    /// <summary>A replica that went away takes its blocks with it.</summary>
    public void Forget(int replica)
    {
        lock (_gate)
            foreach (var k in _owner.Where(kv => kv.Value.Replica == replica).Select(kv => kv.Key).ToList()) _owner.Remove(k);
    }
}
