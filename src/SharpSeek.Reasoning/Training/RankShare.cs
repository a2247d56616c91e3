namespace SharpSeek.Reasoning.Training;

/// <summary>
/// How the R1 pipeline spreads work over the ranks of a data-parallel job: rank r of N takes the contiguous items
/// [⌊r·n/N⌋, ⌊(r+1)·n/N⌋), so every item has exactly one rank, shares differ by at most one, and the split depends on
/// nothing but n, r and N (every rank computes every rank's share without asking).
/// </summary>
public static class RankShare
{
    public static (int First, int Count) Of(int items, int rank, int ranks)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(items);
        if (ranks < 1 || rank < 0 || rank >= ranks) throw new ArgumentOutOfRangeException(nameof(rank), rank, $"rank {rank} of {ranks}");
        int first = (int)((long)rank * items / ranks), end = (int)((long)(rank + 1) * items / ranks);
        return (first, end - first);
    }
}
