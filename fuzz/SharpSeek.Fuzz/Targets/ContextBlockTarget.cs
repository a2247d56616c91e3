using System.Buffers.Binary;
using SharpSeek.Inference;
using SharpSeek.Tensors;
using static SharpSeek.Inference.ContextCache;

namespace SharpSeek.Fuzz.Targets;

/// <summary>
/// A context-cache block file (<c>*.kvb</c>) as the disk tier reads it back. The input is judged twice: as given, and
/// with its SHA-256 recomputed, because the checksum guards against torn writes, not against a hostile file, and a
/// fuzzer cannot forge a hash: without the fix-up it would never get past the checksum to the fields behind it.
/// </summary>
/// <remarks>
/// There is no rejection exception here: every input must get a verdict, and a usable one must have the exact length
/// of a header plus one page (the reader copies that many bytes into a pool page).
/// </remarks>
internal static class ContextBlockTarget
{
    /// <summary>A small pool shape (1 layer, 2 + 1 row elements, F16) so a whole valid file is 740 bytes.</summary>
    internal static readonly BlockFileLayout Layout = new(1, 2, 1, (int)DType.F16, (long)BlockTokens * (2 + 1) * 2);

    /// <summary>The tokens the seed blocks hold.</summary>
    internal static readonly int[] Tokens = Enumerable.Range(0, BlockTokens).ToArray();

    public static void Run(byte[] input)
    {
        Judge(input, Tokens);
        if (input.Length < BlockFileHeaderBytes) return;
        var fixedUp = (byte[])input.Clone();
        FixChecksum(fixedUp);
        Judge(fixedUp, Tokens);
        // Also against the tokens the file claims, so the fuzzer reaches the accepting path without guessing them.
        var claimed = new int[BlockTokens];
        for (int i = 0; i < BlockTokens; i++) claimed[i] = BinaryPrimitives.ReadInt32LittleEndian(fixedUp.AsSpan(68 + i * 4));
        Judge(fixedUp, claimed);
    }

    private static void Judge(byte[] data, int[] tokens)
    {
        var verdict = InspectBlockFile(data, Layout, tokens, out _, out _);
        if (verdict == BlockFileVerdict.Usable && data.Length != BlockFileHeaderBytes + Layout.PageBytes)
            throw new FuzzPropertyException($"a {data.Length}-byte block file was judged usable; a page file is {BlockFileHeaderBytes + Layout.PageBytes} bytes");
    }

    /// <summary>Writes the checksum the disk writer would have written (also used to make the seed).</summary>
    internal static void FixChecksum(byte[] data) =>
        Checksum(data.AsSpan(0, BlockFileHeaderBytes), data.AsSpan(BlockFileHeaderBytes), data.AsSpan(BlockFileChecksumOffset, 32));
}
