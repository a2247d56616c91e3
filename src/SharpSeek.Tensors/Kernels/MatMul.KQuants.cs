using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using SharpSeek.Tensors.Quantization;
using SharpSeek.Tensors.Threading;

namespace SharpSeek.Tensors.Kernels;

// Q4_K and Q6_K weights against Q8_K activations.
//
// Per 256-element super-block both kernels keep exact int32 lane sums: u8 weight codes × s8 activations summed pairwise
// into int16 (vpmaddubsw; at most 63·127·2 = 16002, no saturation), times the sub-block's 6/8-bit scale summed
// pairwise into int32 (vpmaddwd, or vpdpwssd with AVX-VNNI: the same integers). The offsets (Q4_K's mins, Q6_K's −32)
// are applied through the activation's block sums, so the inner loop never subtracts. The super-block's integers are
// converted once and folded into a 16-lane f32 accumulator with fl(d_w · d_x); the canonical lane layout of each format
// is described in its file. Without SIMD each output is the per-super-block scalar sum.
public static unsafe partial class MatMul
{
    private static bool UseK512 => Vector512.IsHardwareAccelerated && Avx512BW.IsSupported;
    private static bool UseK256 => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>From this many activation rows on, the 512-bit path unpacks each weight tile once into scratch.</summary>
    private const int KPackMinRows = 8;
    /// <summary>An unpacked weight tile stays well inside L2 next to the activations streaming past it.</summary>
    private const long KPackedTileBytes = 384 * 1024;

    private static void LinearQ8_KActivations(Tensor weight, float* x, float* y, int m, int n, int k, ComputePool pool)
    {
        int nb = k / 256;
        var act = (BlockQ8_K*)ActivationScratch((long)m * nb * sizeof(BlockQ8_K));
        for (int i = 0; i < m; i++) ActivationQuantizer.QuantizeQ8_K(x + (long)i * k, k, act + (long)i * nb);
        bool isQ6 = weight.DType == DType.Q6_K;
        if (!isQ6 && UseK256)
            for (long b = 0; b < (long)m * nb; b++) ArrangeForQ4K(act + b);

        long rowBytes = DTypeInfo.ByteCount(weight.DType, k);
        var body = new KQuantTileBody
        {
            W = weight.Data, Stride = weight.RowStrideBytes, Act = act, Y = y, M = m, N = n, Blocks = nb, IsQ6 = isQ6,
            TileRows = TileRows(rowBytes),
        };
        pool.For(n, Grain(rowBytes * m), ref body);
    }

    private struct KQuantTileBody : IRangeBody, ITileKernel
    {
        public byte* W;
        public long Stride;
        public BlockQ8_K* Act;
        public float* Y;
        public int M, N, Blocks, TileRows;
        public bool IsQ6;

        public void Execute(int start, int end, int worker)
        {
            // Tile shapes (speed only): the 512-bit kernels hold a weight row's unpacked super-block (8 zmm) in registers,
            // 4 × 1 for a few rows; from KPackMinRows rows a tile is unpacked once into scratch; the GEMV reads one weight
            // row at a time.
            if (UseK512 && M >= KPackMinRows) RunPacked(start, end);
            else if (UseK512 && M > 1) RunTiles<KQuantTileBody, Four, One>(ref this, M, start, end, TileRows);
            else RunTiles<KQuantTileBody, One, One>(ref this, M, start, end, TileRows);
        }

        public void Tile<TA, TW>(int i0, int j0) where TA : struct, IRowCount where TW : struct, IRowCount
        {
            byte* w = W + j0 * Stride;
            BlockQ8_K* a = Act + (long)i0 * Blocks;
            float* y = Y + (long)i0 * N + j0;
            // The GEMV streams one weight row at a time (with several rows in flight the DRAM stream runs measurably
            // slower on Zen 4); for Q4_K through the 256-bit kernel, which computes the same bits as the 512-bit ones and
            // was faster there as a single stream (Q6_K's 512-bit kernel was the faster one).
            if (UseK512 && (IsQ6 || M > 1))
            {
                if (IsQ6) Q6KTile512<TA, TW>(w, Stride, a, Blocks, y, N);
                else Q4KTile512<TA, TW>(w, Stride, a, Blocks, y, N);
            }
            else
                for (int i = 0; i < TA.Count; i++)
                    for (int j = 0; j < TW.Count; j++)
                    {
                        byte* wj = w + j * Stride;
                        BlockQ8_K* ai = a + (long)i * Blocks;
                        y[(long)i * N + j] = IsQ6 ? (UseK256 ? DotQ6K256((BlockQ6_K*)wj, ai, Blocks) : DotQ6KScalar((BlockQ6_K*)wj, ai, Blocks))
                            : UseK256 ? DotQ4K256((BlockQ4_K*)wj, ai, Blocks) : DotQ4KScalar((BlockQ4_K*)wj, ai, Blocks);
                    }
        }

        /// <summary>Many rows on the 512-bit path: unpack a cache tile of weight rows once, then pass all activation rows over it.</summary>
        private readonly void RunPacked(int start, int end)
        {
            long packedRow = (long)Blocks * (IsQ6 ? Q6KPackedBlock : Q4KPackedBlock);
            int tileRows = (int)Math.Max(1, Math.Min(TileRows, KPackedTileBytes / packedRow));
            byte* packed = PackScratch(tileRows * packedRow);
            for (int r0 = start; r0 < end; r0 += tileRows)
            {
                int r1 = Math.Min(end, r0 + tileRows);
                if (IsQ6) PackQ6KTile(W + r0 * Stride, Stride, r1 - r0, Blocks, packed);
                else PackQ4KTile(W + r0 * Stride, Stride, r1 - r0, Blocks, packed);
                for (int i0 = 0; i0 < M; i0 += 4)
                {
                    int ra = Math.Min(4, M - i0);
                    BlockQ8_K* a = Act + (long)i0 * Blocks;
                    for (int j = r0; j < r1; j++)
                    {
                        byte* pw = packed + (j - r0) * packedRow;
                        float* y = Y + (long)i0 * N + j;
                        switch (ra)
                        {
                            case 1: PackedTile<One>(pw, a, y); break;
                            case 2: PackedTile<Two>(pw, a, y); break;
                            case 3: PackedTile<Three>(pw, a, y); break;
                            default: PackedTile<Four>(pw, a, y); break;
                        }
                    }
                }
            }
        }

        private readonly void PackedTile<TA>(byte* pw, BlockQ8_K* a, float* y) where TA : struct, IRowCount
        {
            if (IsQ6) Q6KPackedTile512<TA>(pw, a, Blocks, y, N);
            else Q4KPackedTile512<TA>(pw, a, Blocks, y, N);
        }
    }

    // vpshufb patterns that broadcast one 16-bit scale across a 128-bit lane: word j of an 8-word lane in both lanes.
    private static readonly Vector256<byte> s_word0 = WordBroadcast(0, 0), s_word1 = WordBroadcast(1, 1), s_word2 = WordBroadcast(2, 2),
        s_word3 = WordBroadcast(3, 3), s_word4 = WordBroadcast(4, 4), s_word5 = WordBroadcast(5, 5), s_word6 = WordBroadcast(6, 6), s_word7 = WordBroadcast(7, 7);

    private static Vector256<byte> WordBroadcast(int lowLaneWord, int highLaneWord)
        => Vector256.Create(Vector128.Create((ushort)(2 * lowLaneWord | (2 * lowLaneWord + 1) << 8)).AsByte(),
                            Vector128.Create((ushort)(2 * highLaneWord | (2 * highLaneWord + 1) << 8)).AsByte());

    /// <summary>Adds Σ pairs of <paramref name="p"/>·<paramref name="scale"/> (int16 → int32) to <paramref name="acc"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> AddScaledPairs(Vector256<int> acc, Vector256<short> p, Vector256<short> scale)
        => AvxVnni.IsSupported ? AvxVnni.MultiplyWideningAndAdd(acc, p, scale) : Avx2.Add(acc, Avx2.MultiplyAddAdjacent(p, scale));

    /// <summary>The two fp16 scales that open a Q4_K block (d, dmin) as floats in lanes 0 and 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> HalfPair(byte* p)
        => Fp16Codec.Widen(Sse41.ConvertToVector128Int32(Vector128.CreateScalar(*(uint*)p).AsUInt16()).AsUInt32());
}
