using System.Collections.Concurrent;
using System.Diagnostics;

namespace SharpSeek.Server.Admission;

/// <summary>A token bucket per API key: <c>rate</c> requests per second refill, up to <c>burst</c>; an empty bucket means 429.</summary>
public sealed class KeyRateLimiter(double ratePerSecond, int burst)
{
    private sealed class Bucket
    {
        public double Tokens;
        public long Stamp;
    }

    private readonly ConcurrentDictionary<long, Bucket> _buckets = new();

    public bool TryAcquire(long accountKey)
    {
        var b = _buckets.GetOrAdd(accountKey, _ => new Bucket { Tokens = burst, Stamp = Stopwatch.GetTimestamp() });
        lock (b)
        {
            long now = Stopwatch.GetTimestamp();
            b.Tokens = Math.Min(burst, b.Tokens + Stopwatch.GetElapsedTime(b.Stamp, now).TotalSeconds * ratePerSecond);
            b.Stamp = now;
            if (b.Tokens < 1) return false;
            b.Tokens -= 1;
            return true;
        }
    }
}
