namespace SharpSeek.Router;

/// <summary>
/// The routing rule. Prefix-aware: among healthy replicas under the load bound, the one known to hold the most
/// leading blocks of the prompt; ties (and prompts nobody holds) go to the least loaded (<see cref="Replica.Load"/>:
/// requests in flight from here, or the replica's own running + queued count when higher). The bound — at most
/// (1 + slack) × (mean + 1) — keeps one hot prefix from piling every request onto one replica:
/// past it, the request goes elsewhere and that replica learns the prefix too. Round-robin ignores prefixes.
/// </summary>
public sealed class ReplicaChooser(RoutingPolicy policy, double slack)
{
    private int _turn = -1;

    /// <summary>The replica for a request, or null when none is healthy; <paramref name="exclude"/> are replicas that already failed it.</summary>
    public Replica? Choose(IReadOnlyList<Replica> replicas, int[] matched, ISet<int>? exclude, out int matchedBlocks)
    {
        matchedBlocks = 0;
        var healthy = replicas.Where(r => r.Healthy && exclude?.Contains(r.Index) != true).ToList();
        if (healthy.Count == 0) return null;
        int turn = Interlocked.Increment(ref _turn) & int.MaxValue;
        if (policy == RoutingPolicy.RoundRobin) return healthy[turn % healthy.Count];

        double mean = healthy.Average(r => (double)r.Load);
        double bound = (1 + slack) * (mean + 1);
        var eligible = healthy.Where(r => r.Load < bound).ToList();
        if (eligible.Count == 0) eligible = healthy;
        // Most matched blocks first; then the lighter load; then a rotating tie-break so new prompts spread out.
        var best = eligible
            .OrderByDescending(r => matched[r.Index])
            .ThenBy(r => r.Load)
            .ThenBy(r => (r.Index - turn % replicas.Count + replicas.Count) % replicas.Count)
            .First();
        matchedBlocks = matched[best.Index];
        return best;
    }
}
