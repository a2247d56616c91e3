using System.Numerics;
using System.Runtime.CompilerServices;

namespace SharpSeek.Tokenizer;

/// <summary>
/// Merge rules keyed by the ids of the two symbols: (left, right) → rank, and rank → merged id. The BPE loop does
/// one lookup per candidate pair, and with DeepSeek's 128K merges the table does not fit in L2, so each entry is a
/// single 8-byte word (21-bit left id, 21-bit right id, 22-bit rank) in an open-addressing array with linear
/// probing: one probe is one cache line, and the whole table is 2 MB instead of the 8+ MB of a general dictionary.
/// </summary>
internal sealed class BpeMergeTable
{
    /// <summary>Ids must be below this (2M tokens); the all-ones id marks an empty slot.</summary>
    public const int MaxTokenId = (1 << IdBits) - 2;

    /// <summary>Ranks must be below this (4M merges).</summary>
    public const int MaxRank = (1 << RankBits) - 1;

    private const int IdBits = 21;
    private const int RankBits = 22;
    private const ulong Empty = ulong.MaxValue;
    private const ulong KeyMask = ~(ulong)MaxRank;

    private readonly ulong[] _entries;
    private readonly int[] _mergedByRank;
    private readonly int _shift;

    public BpeMergeTable(int ruleCount)
    {
        if (ruleCount > MaxRank)
            throw new NotSupportedException($"{ruleCount} merge rules exceed the supported {MaxRank}");
        int size = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, ruleCount * 2));
        _entries = new ulong[size];
        Array.Fill(_entries, Empty);
        _mergedByRank = new int[Math.Max(1, ruleCount)];
        _shift = 64 - BitOperations.Log2((uint)size);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Key(int left, int right) => ((ulong)(uint)left << (IdBits + RankBits)) | ((ulong)(uint)right << RankBits);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Slot(ulong key) => (int)((key * 0x9E3779B97F4A7C15UL) >> _shift);

    /// <summary>Adds or replaces a rule (a later duplicate wins, as in the reference implementations).</summary>
    public void Set(int left, int right, int rank, int merged)
    {
        if ((uint)left > MaxTokenId || (uint)right > MaxTokenId)
            throw new NotSupportedException($"token ids above {MaxTokenId} are not supported in merges");
        _mergedByRank[rank] = merged;
        ulong key = Key(left, right);
        int mask = _entries.Length - 1;
        int slot = Slot(key);
        while (_entries[slot] != Empty && (_entries[slot] & KeyMask) != key)
            slot = (slot + 1) & mask;
        _entries[slot] = key | (uint)rank;
    }

    /// <summary>The rank of the rule merging (<paramref name="left"/>, <paramref name="right"/>), or -1 when there is none.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Rank(int left, int right)
    {
        ulong key = Key(left, right);
        ulong[] entries = _entries;
        int mask = entries.Length - 1;
        int slot = Slot(key);
        while (true)
        {
            ulong entry = entries[slot];
            if ((entry & KeyMask) == key)
                return (int)(entry & MaxRank);
            if (entry == Empty)
                return -1;
            slot = (slot + 1) & mask;
        }
    }

    /// <summary>The token a rule of the given rank produces.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Merged(int rank) => _mergedByRank[rank];
}
