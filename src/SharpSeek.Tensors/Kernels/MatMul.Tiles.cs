using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace SharpSeek.Tensors.Kernels;

// Register-blocked tiles shared by every weight format.
//
// Batch invariance: each output y[i, j] is produced by one micro-kernel whose arithmetic on the (i, j) accumulators
// depends only on activation row i and weight row j — never on how many other rows share the micro-tile, where the
// tile starts, or which thread runs it. A micro-kernel is written once for the largest tile with `if (TA.Count > r)`
// guards; the JIT specialises each (TA, TW) instantiation and drops the absent rows, so the single-row GEMV is the
// same code instantiated with one activation row. Tile shapes therefore only change speed, never bits.
public static unsafe partial class MatMul
{
    /// <summary>A row count known to the JIT (a struct per count, so generic code specialises on it).</summary>
    private interface IRowCount
    {
        static abstract int Count { get; }
    }

    private struct One : IRowCount { public static int Count => 1; }
    private struct Two : IRowCount { public static int Count => 2; }
    private struct Three : IRowCount { public static int Count => 3; }
    private struct Four : IRowCount { public static int Count => 4; }

    /// <summary>A micro-kernel: y for activation rows [i0, i0 + TA) against weight rows [j0, j0 + TW).</summary>
    private interface ITileKernel
    {
        void Tile<TA, TW>(int i0, int j0) where TA : struct, IRowCount where TW : struct, IRowCount;
    }

    /// <summary>
    /// Covers weight rows [start, end) × all <paramref name="m"/> activation rows with micro-tiles of up to
    /// TMaxA × TMaxW: weight rows in cache tiles of <paramref name="tileRows"/> (the tile stays in L2 while every
    /// activation row passes over it), activation rows in groups of TMaxA (they stay in L1 while the tile's weight rows
    /// stream past), leftover weight rows one at a time.
    /// </summary>
    private static void RunTiles<TK, TMaxA, TMaxW>(ref TK kernel, int m, int start, int end, int tileRows)
        where TK : struct, ITileKernel where TMaxA : struct, IRowCount where TMaxW : struct, IRowCount
    {
        int maxA = TMaxA.Count, maxW = TMaxW.Count;
        for (int r0 = start; r0 < end; r0 += tileRows)
        {
            int r1 = Math.Min(end, r0 + tileRows);
            for (int i0 = 0; i0 < m; i0 += maxA)
            {
                int ra = Math.Min(maxA, m - i0), j0 = r0;
                for (; j0 + maxW <= r1; j0 += maxW) TileA<TK, TMaxW>(ref kernel, ra, i0, j0);
                for (; j0 < r1; j0++) TileA<TK, One>(ref kernel, ra, i0, j0);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TileA<TK, TW>(ref TK kernel, int ra, int i0, int j0) where TK : struct, ITileKernel where TW : struct, IRowCount
    {
        switch (ra)
        {
            case 1: kernel.Tile<One, TW>(i0, j0); break;
            case 2: kernel.Tile<Two, TW>(i0, j0); break;
            case 3: kernel.Tile<Three, TW>(i0, j0); break;
            default: kernel.Tile<Four, TW>(i0, j0); break;
        }
    }

    /// <summary>
    /// The fixed horizontal sum of a 16-lane accumulator: lanes l and l+8, then l and l+4, then l and l+2, then the
    /// last two. <see cref="Sum16(Vector256{float}, Vector256{float})"/> follows the same tree, so a 16-lane accumulator
    /// held as one zmm or as two ymm sums to the same bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Sum16(Vector512<float> v) => Sum8(v.GetLower() + v.GetUpper());

    /// <summary><see cref="Sum16(Vector512{float})"/> of the accumulator whose lanes 0..7 are <paramref name="lo"/> and 8..15 <paramref name="hi"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Sum16(Vector256<float> lo, Vector256<float> hi) => Sum8(lo + hi);

    /// <summary>Lanes l and l+4, then l and l+2, then the last two (the tail of <see cref="Sum16(Vector512{float})"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Sum8(Vector256<float> v) => Sum4(v.GetLower() + v.GetUpper());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Sum4(Vector128<float> v)
    {
        var h = v + Vector128.Shuffle(v, Vector128.Create(2, 3, 0, 1));
        return h.ToScalar() + h.GetElement(1);
    }
}
