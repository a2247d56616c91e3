using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using SharpSeek.Tensors.Quantization;
using SharpSeek.Tensors.Threading;

namespace SharpSeek.Tensors.Kernels;

// Q8_0 and Q4_0 weights against Q8_0-style activations (int8 quants with an f32 scale per 32).
//
// Canonical order (both vector paths): for weight block b, eight exact int32 lane sums P_b[l] = Σ_{t<4} w[4l+t]·x[4l+t]
// (Q4_0: w = nibble − 8); output (i, j) keeps a 16-lane f32 accumulator whose lanes 0..7 take the even blocks and
// 8..15 the odd ones, acc[8·(b mod 2) + l] = fma(float(P_b[l]), fl(d_w,b · d_x,b), acc[…]) in increasing b; then Sum16.
// The 512-bit kernels get P for two blocks from one vpmaddubsw + vpmaddwd, the 256-bit kernel for one block from
// vpmaddubsw + vpmaddwd or (AVX-VNNI) vpdpbusd. vpmaddubsw needs an unsigned operand: for Q8_0 that is |w| with w's
// sign moved onto x (a select, vpsignb on 256 bits); Q4_0 feeds its nibbles q = w + 8 and starts from the activation's
// per-lane −8·Σx. The same integers every way, so the same bits. Without SIMD: per block the exact integer dot times
// fl(d_w · d_x), added in block order.
public static unsafe partial class MatMul
{
    private static void LinearQ8_0Activations(Tensor weight, float* x, float* y, int m, int n, int k, ComputePool pool)
    {
        int nb = k / 32;
        // Per activation row, per pair of blocks (an odd count is padded with a zero block; the 512-bit kernels read
        // blocks in pairs) one step of Q8ActStep bytes, so a kernel reads each row as one stream: the 64 quants; for
        // Q8_0 their negations (the sign of w is moved onto x by a select), for Q4_0 the 16 int32 lane offsets
        // −8·Σ of four quants; and each block's scale repeated 8 times (one per int32 lane).
        bool isQ4 = weight.DType == DType.Q4_0;
        int steps = (nb + 1) / 2;
        long rowBytes = (long)steps * Q8ActStep;
        byte* scratch = ActivationScratch(m * rowBytes + 32L * nb + 8L * nb);
        sbyte* q = (sbyte*)(scratch + m * rowBytes);
        float* d = (float*)(q + 32L * nb);
        int* sums = (int*)(d + nb);
        for (int i = 0; i < m; i++)
        {
            ActivationQuantizer.QuantizeQ8_0(x + (long)i * k, k, q, d, sums);
            byte* row = scratch + i * rowBytes;
            for (int b = 0; b < 2 * steps; b++)
            {
                byte* step = row + (b >> 1) * Q8ActStep + 32 * (b & 1);
                var v = b < nb ? Vector256.Load(q + 32L * b) : default;
                v.Store((sbyte*)step);
                if (isQ4)
                    for (int l = 0; l < 8; l++)
                        ((int*)(step + 64))[l] = b < nb ? -8 * (q[32 * b + 4 * l] + q[32 * b + 4 * l + 1] + q[32 * b + 4 * l + 2] + q[32 * b + 4 * l + 3]) : 0;
                else
                    (Vector256<sbyte>.Zero - v).Store((sbyte*)(step + 64));
                Vector256.Create(b < nb ? d[b] : 0f).Store((float*)(step + 128));
            }
        }

        long weightRowBytes = DTypeInfo.ByteCount(weight.DType, k);
        var body = new Q8_0TileBody
        {
            W = weight.Data, Stride = weight.RowStrideBytes, Act = scratch, ActStride = rowBytes, Y = y,
            M = m, N = n, Blocks = nb, IsQ4 = isQ4, TileRows = TileRows(weightRowBytes),
        };
        pool.For(n, Grain(weightRowBytes * m), ref body);
    }

    private static bool UseQ8_512 => Vector512.IsHardwareAccelerated && Avx512BW.IsSupported;
    private static bool UseQ8_256 => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>From this many activation rows on, the 512-bit path packs each weight tile once (see <see cref="PackQ8Tile{TC}"/>).</summary>
    private const int Q8PackMinRows = 8;

    private struct Q8_0TileBody : IRangeBody, ITileKernel
    {
        public byte* W, Act;
        public long Stride, ActStride;
        public float* Y;
        public int M, N, Blocks, TileRows;
        public bool IsQ4;

        public void Execute(int start, int end, int worker)
        {
            // Tile shapes (speed only): many rows run over packed tiles (4 × 3); a few rows take the 512-bit kernel
            // straight from the weights (per weight row its codes, sign and scales in registers: 4 × 2); the GEMV
            // streams one weight row at a time through the 256-bit kernel (see Tile); that one has 16 ymm, two per output.
            if (UseQ8_512 && M >= Q8PackMinRows)
            {
                if (IsQ4) RunPacked<Q4_0Codes>(start, end);
                else RunPacked<Q8_0Codes>(start, end);
            }
            else if (UseQ8_512 && M > 1) RunTiles<Q8_0TileBody, Four, Two>(ref this, M, start, end, TileRows);
            else if (UseQ8_256)
            {
                if (M == 1) RunTiles<Q8_0TileBody, One, One>(ref this, M, start, end, TileRows);
                else RunTiles<Q8_0TileBody, Two, One>(ref this, M, start, end, TileRows);
            }
            else
            {
                RunTiles<Q8_0TileBody, One, One>(ref this, M, start, end, TileRows);
            }
        }

        public void Tile<TA, TW>(int i0, int j0) where TA : struct, IRowCount where TW : struct, IRowCount
        {
            byte* w = W + j0 * Stride, a = Act + i0 * ActStride;
            float* y = Y + (long)i0 * N + j0;
            if (IsQ4) Tile<Q4_0Codes, TA, TW>(w, a, y);
            else Tile<Q8_0Codes, TA, TW>(w, a, y);
        }

        private readonly void Tile<TC, TA, TW>(byte* w, byte* a, float* y)
            where TC : struct, IQ8Codes where TA : struct, IRowCount where TW : struct, IRowCount
        {
            // The GEMV takes the 256-bit kernel even with AVX-512: one block per step needs no cross-lane work (a block's
            // 32 codes are one load, vpsignb exists), and on cores that split zmm ops in two it is the cheaper stream.
            // It computes the same bits as the 512-bit kernels.
            if (UseQ8_512 && M > 1) Q8Tile512<TC, TA, TW>(w, Stride, a, ActStride, Blocks, y, N);
            else if (UseQ8_256) Q8Tile256<TC, TA, TW>(w, Stride, a, ActStride, Blocks, y, N);
            else
                for (int i = 0; i < TA.Count; i++)
                    for (int j = 0; j < TW.Count; j++) y[(long)i * N + j] = DotQ8Scalar<TC>(w + j * Stride, a + i * ActStride, Blocks);
        }

        /// <summary>
        /// Many rows on the 512-bit path: each cache tile of weight rows is unpacked once into this thread's scratch
        /// (|codes|, sign, scales per block pair), then every group of four activation rows passes over it.
        /// </summary>
        private readonly void RunPacked<TC>(int start, int end) where TC : struct, IQ8Codes
        {
            int steps = (Blocks + 1) / 2;
            long packedRow = steps * (long)Q8PackedStep;
            int tileRows = (int)Math.Max(4, Math.Min(TileRows, Q8PackedTileBytes / packedRow));
            byte* packed = PackScratch(tileRows * packedRow);
            for (int r0 = start; r0 < end; r0 += tileRows)
            {
                int r1 = Math.Min(end, r0 + tileRows);
                PackQ8Tile<TC>(W + r0 * Stride, Stride, r1 - r0, Blocks, packed);
                for (int i0 = 0; i0 < M; i0 += 4)
                {
                    int ra = Math.Min(4, M - i0);
                    byte* a = Act + i0 * ActStride;
                    int j = r0;
                    for (; j + 3 <= r1; j += 3) PackedA<TC, Three>(ra, packed + (j - r0) * packedRow, packedRow, a, steps, Y + (long)i0 * N + j);
                    for (; j < r1; j++) PackedA<TC, One>(ra, packed + (j - r0) * packedRow, packedRow, a, steps, Y + (long)i0 * N + j);
                }
            }
        }

        private readonly void PackedA<TC, TW>(int ra, byte* pw, long packedRow, byte* a, int steps, float* y) where TC : struct, IQ8Codes where TW : struct, IRowCount
        {
            switch (ra)
            {
                case 1: Q8PackedTile512<TC, One, TW>(pw, packedRow, a, ActStride, steps, y, N); break;
                case 2: Q8PackedTile512<TC, Two, TW>(pw, packedRow, a, ActStride, steps, y, N); break;
                case 3: Q8PackedTile512<TC, Three, TW>(pw, packedRow, a, ActStride, steps, y, N); break;
                default: Q8PackedTile512<TC, Four, TW>(pw, packedRow, a, ActStride, steps, y, N); break;
            }
        }
    }

    /// <summary>One GGML block format (fp16 scale first, then codes) as 8-bit codes.</summary>
    private interface IQ8Codes
    {
        static abstract int BlockBytes { get; }
        /// <summary>The codes are w + 8 in 0..15 (Q4_0), else the signed weights.</summary>
        static abstract bool Unsigned { get; }
        /// <summary>The 32 codes of the block at <paramref name="block"/> (Avx2).</summary>
        static abstract Vector256<sbyte> Codes(byte* block);
        /// <summary>Blocks at <paramref name="block"/> and the next one: 64 codes (Avx512BW).</summary>
        static abstract Vector512<sbyte> Codes2(byte* block);
        /// <summary>The signed weight e of the block.</summary>
        static abstract int Code(byte* block, int e);
    }

    private struct Q8_0Codes : IQ8Codes
    {
        public static int BlockBytes => 34;
        public static bool Unsigned => false;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<sbyte> Codes(byte* block) => Vector256.Load((sbyte*)block + 2);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<sbyte> Codes2(byte* block) => Vector512.Create(Vector256.Load((sbyte*)block + 2), Vector256.Load((sbyte*)block + 36));
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static int Code(byte* block, int e) => ((sbyte*)block)[2 + e];
    }

    /// <summary>Q4_0: byte e holds element e (low nibble) and e+16 (high nibble); the weight is the nibble − 8.</summary>
    private struct Q4_0Codes : IQ8Codes
    {
        public static int BlockBytes => 18;
        public static bool Unsigned => true;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<sbyte> Codes(byte* block)
        {
            var packed = Vector128.Load(block + 2);
            return (Vector256.Create(packed, Vector128.ShiftRightLogical(packed.AsUInt16(), 4).AsByte()) & Vector256.Create((byte)0x0F)).AsSByte();
        }
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<sbyte> Codes2(byte* block)
        {
            var packed = Vector256.Create(Vector128.Load(block + 2), Vector128.Load(block + 20));
            var low = packed & Vector256.Create((byte)0x0F);
            var high = Avx2.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & Vector256.Create((byte)0x0F);
            // [low b, high b, low b+1, high b+1] in 128-bit quarters.
            return Avx512F.PermuteVar8x64x2(low.ToVector512Unsafe().AsUInt64(), Vector512.Create(0ul, 1, 8, 9, 2, 3, 10, 11), high.ToVector512Unsafe().AsUInt64()).AsSByte();
        }
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static int Code(byte* block, int e) => (e < 16 ? block[2 + e] & 0xF : block[2 + e - 16] >> 4) - 8;
    }

    /// <summary>Bytes per block pair of a prepared activation row: 64 quants, 64 negated quants, 16 scales.</summary>
    private const int Q8ActStep = 192;

    /// <summary>Without SIMD: per block the exact integer dot times fl(d_w · d_x), added in block order.</summary>
    private static float DotQ8Scalar<TC>(byte* w, byte* act, int nb) where TC : struct, IQ8Codes
    {
        float sum = 0;
        for (int b = 0; b < nb; b++, w += TC.BlockBytes)
        {
            sbyte* xq = (sbyte*)(act + (b >> 1) * Q8ActStep + 32 * (b & 1));
            int dot = 0;
            for (int e = 0; e < 32; e++) dot += TC.Code(w, e) * xq[e];
            sum += dot * (Fp16Codec.ToSingle(*(ushort*)w) * *(float*)((byte*)xq + 128));
        }
        return sum;
    }

    /// <summary>The fp16 scales that open eight consecutive blocks of <paramref name="stride"/> bytes, as floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> HalfScales8(byte* p, int stride)
    {
        var h = Vector128.Create(*(ushort*)p, *(ushort*)(p + stride), *(ushort*)(p + 2 * stride), *(ushort*)(p + 3 * stride),
            *(ushort*)(p + 4 * stride), *(ushort*)(p + 5 * stride), *(ushort*)(p + 6 * stride), *(ushort*)(p + 7 * stride));
        return Fp16Codec.Widen(Avx2.ConvertToVector256Int32(h).AsUInt32());
    }

    [ThreadStatic] private static byte[]? t_activationScratch, t_packScratch;

    /// <summary>
    /// Per-thread pinned scratch for prepared activations (grown, never shrunk), 64-byte aligned, so a decode step
    /// allocates nothing. Only the calling thread writes it; pool workers read it while the call is in flight.
    /// </summary>
    private static byte* ActivationScratch(long bytes) => Scratch(ref t_activationScratch, bytes);

    /// <summary>Per-thread pinned scratch for a packed weight tile (each pool thread packs its own tiles).</summary>
    private static byte* PackScratch(long bytes) => Scratch(ref t_packScratch, bytes);

    private static byte* Scratch(ref byte[]? slot, long bytes)
    {
        bytes += 64;
        var buf = slot;
        if (buf == null || buf.Length < bytes)
        {
            if (bytes > Array.MaxLength) throw new ArgumentException($"Linear: {bytes} bytes of scratch are more than one array can hold");
            long size = Math.Max(bytes, Math.Min(Array.MaxLength, (buf?.Length ?? 0) * 2L));
            buf = GC.AllocateUninitializedArray<byte>((int)size, pinned: true);
            slot = buf;
        }
        byte* p = (byte*)Unsafe.AsPointer(ref buf[0]);
        return (byte*)(((nint)p + 63) & ~(nint)63);
    }
}
