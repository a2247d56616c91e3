using SharpSeek.Tokenizer;

namespace SharpSeek.Router;

/// <summary>How replicas are chosen.</summary>
public enum RoutingPolicy
{
    /// <summary>The replica holding the longest cached prefix of the prompt, within the load bound.</summary>
    PrefixAware,
    /// <summary>Each request to the next healthy replica in turn (the baseline prefix-aware routing is measured against).</summary>
    RoundRobin,
}

public sealed record RouterOptions
{
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>0 picks a free port (tests).</summary>
    public int Port { get; init; } = 8080;
    public required IReadOnlyList<Uri> Replicas { get; init; }
    public RoutingPolicy Policy { get; init; } = RoutingPolicy.PrefixAware;
    /// <summary>
    /// The served model's tokenizer (its chat template included), so the router sees the replicas' 64-token blocks.
    /// Without one every request is routed by load alone.
    /// </summary>
    public ByteLevelBpeTokenizer? Tokenizer { get; init; }
    /// <summary>Bounded load: a replica is skipped for its prefix when it has more than (1 + slack) × (mean + 1) requests in flight.</summary>
    public double LoadSlack { get; init; } = 0.25;
    public TimeSpan HealthInterval { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>How long a replica may take to answer /health before it counts as down.</summary>
    public TimeSpan HealthTimeout { get; init; } = TimeSpan.FromSeconds(2);
    /// <summary>Prompt blocks remembered (across all replicas).</summary>
    public int IndexCapacity { get; init; } = 1 << 20;
}
