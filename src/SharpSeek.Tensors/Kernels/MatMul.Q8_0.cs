using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using SharpSeek.Tensors.Quantization;
using SharpSeek.Tensors.Threading;

namespace SharpSeek.Tensors.Kernels;

// Q8_0 and Q4_0 weights against Q8_0-style activations (quants, f32 block scales, block quant sums).
//
// Both kernels feed *unsigned* weight codes to u8×s8 dot instructions: Q8_0 codes are offset by 128 (xor 0x80),
// Q4_0 nibbles are already 0..15 with an implicit −8. The offset times the activation block's quant sum is
// subtracted by starting each block's integer accumulator at −offset·Σq, so the block's integer dot comes out exact.
public static unsafe partial class MatMul
{
    private static void LinearQ8_0Activations(Tensor weight, float* x, float* y, int m, int n, int k, ComputePool pool)
    {
        int nb = k / 32;
        bool isQ4 = weight.DType == DType.Q4_0;
        long qBytes = ((long)m * k + 63) & ~63L, dBytes = (long)m * nb * 4;
        byte* scratch = ActivationScratch(qBytes + 2 * dBytes);
        sbyte* q = (sbyte*)scratch;
        float* d = (float*)(scratch + qBytes);
        int* corr = (int*)((byte*)d + dBytes);
        // The kernels feed unsigned weight codes (Q8_0 + 128, Q4_0 nibbles with an implicit −8) to u8×s8 dots;
        // starting each block's integer sum at −offset·Σq makes it come out as the exact signed dot.
        int offset = isQ4 ? 8 : 128;
        for (int i = 0; i < m; i++)
        {
            int* c = corr + (long)i * nb;
            ActivationQuantizer.QuantizeQ8_0(x + (long)i * k, k, q + (long)i * k, d + (long)i * nb, c);
            for (int b = 0; b < nb; b++) c[b] *= -offset;
        }

        long rowBytes = DTypeInfo.ByteCount(weight.DType, k);
        var body = new Q8_0ActivationBody
        {
            W = weight.Data, Stride = weight.RowStrideBytes, Q = q, D = d, Corr = corr, Y = y, M = m, N = n, K = k,
            IsQ4 = isQ4, TileRows = TileRows(rowBytes),
        };
        pool.For(n, Grain(rowBytes * m), ref body);
    }

    private struct Q8_0ActivationBody : IRangeBody
    {
        public byte* W;
        public long Stride;
        public sbyte* Q;
        public float* D, Y;
        public int* Corr;
        public int M, N, K, TileRows;
        public bool IsQ4;

        public readonly void Execute(int start, int end, int worker)
        {
            int nb = K / 32;
            for (int r0 = start; r0 < end; r0 += TileRows)
            {
                int r1 = Math.Min(end, r0 + TileRows);
                for (int i = 0; i < M; i++)
                {
                    sbyte* q = Q + (long)i * K;
                    float* d = D + (long)i * nb;
                    int* c = Corr + (long)i * nb;
                    float* yi = Y + (long)i * N;
                    if (IsQ4)
                        for (int j = r0; j < r1; j++) yi[j] = DotQ4_0(W + j * Stride, q, d, c, nb);
                    else
                        for (int j = r0; j < r1; j++) yi[j] = DotQ8_0(W + j * Stride, q, d, c, nb);
                }
            }
        }
    }

    /// <summary>One GGML block format (fp16 scale first, then codes) as seen by the VNNI row kernel.</summary>
    private interface IVnniBlock
    {
        static abstract int Bytes { get; }
        static abstract Vector256<float> Accumulate(Vector256<float> acc, byte* block, sbyte* x, int corr, Vector256<float> scale);
    }

    private struct Q8_0VnniBlock : IVnniBlock
    {
        public static int Bytes => 34;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Accumulate(Vector256<float> acc, byte* block, sbyte* x, int corr, Vector256<float> scale) => Q8_0Block(acc, block, x, corr, scale);
    }

    private struct Q4_0VnniBlock : IVnniBlock
    {
        public static int Bytes => 18;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Accumulate(Vector256<float> acc, byte* block, sbyte* x, int corr, Vector256<float> scale) => Q4_0Block(acc, block, x, corr, scale);
    }

    /// <summary>
    /// The VNNI row loop shared by Q8_0 and Q4_0 (specialised per format by the JIT, no indirection). Eight blocks at a
    /// time: their fp16 scales are widened together (no F16C in .NET) and multiplied by the activation scales in one
    /// vector, then each block takes its lane with a permute; two accumulators halve the dependency chain.
    /// </summary>
    private static float DotVnni<TBlock>(byte* w, sbyte* xq, float* xd, int* xc, int nb) where TBlock : struct, IVnniBlock
    {
        int bb = TBlock.Bytes;
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        int b = 0;
        for (; b + 8 <= nb; b += 8, w += 8 * bb, xq += 256)
        {
            var s = HalfScales8(w, bb) * Vector256.Load(xd + b);
            int* c = xc + b;
            acc0 = TBlock.Accumulate(acc0, w + 0 * bb, xq, c[0], Avx2.PermuteVar8x32(s, Vector256.Create(0)));
            acc1 = TBlock.Accumulate(acc1, w + 1 * bb, xq + 32, c[1], Avx2.PermuteVar8x32(s, Vector256.Create(1)));
            acc0 = TBlock.Accumulate(acc0, w + 2 * bb, xq + 64, c[2], Avx2.PermuteVar8x32(s, Vector256.Create(2)));
            acc1 = TBlock.Accumulate(acc1, w + 3 * bb, xq + 96, c[3], Avx2.PermuteVar8x32(s, Vector256.Create(3)));
            acc0 = TBlock.Accumulate(acc0, w + 4 * bb, xq + 128, c[4], Avx2.PermuteVar8x32(s, Vector256.Create(4)));
            acc1 = TBlock.Accumulate(acc1, w + 5 * bb, xq + 160, c[5], Avx2.PermuteVar8x32(s, Vector256.Create(5)));
            acc0 = TBlock.Accumulate(acc0, w + 6 * bb, xq + 192, c[6], Avx2.PermuteVar8x32(s, Vector256.Create(6)));
            acc1 = TBlock.Accumulate(acc1, w + 7 * bb, xq + 224, c[7], Avx2.PermuteVar8x32(s, Vector256.Create(7)));
        }
        for (; b < nb; b++, w += bb, xq += 32)
            acc0 = TBlock.Accumulate(acc0, w, xq, xc[b], Vector256.Create(Fp16Codec.ToSingle(*(ushort*)w) * xd[b]));
        return Vector256.Sum(acc0 + acc1);
    }

    /// <summary>
    /// Σ over blocks of d_w·d_x·Σ w_q·x_q for one Q8_0 weight row. <paramref name="xc"/> holds −128·Σx_q per block.
    /// </summary>
    internal static float DotQ8_0(byte* w, sbyte* xq, float* xd, int* xc, int nb)
    {
        if (AvxVnni.IsSupported && Fma.IsSupported) return DotVnni<Q8_0VnniBlock>(w, xq, xd, xc, nb);
        var blocks = (BlockQ8_0*)w;
        if (Avx2.IsSupported && Fma.IsSupported)
        {
            var acc = Vector256<float>.Zero;
            var ones = Vector256.Create((short)1);
            for (int b = 0; b < nb; b++)
            {
                // Sign trick: |w| (unsigned) times x carrying w's sign; |x| ≤ 127 keeps the pair sums inside int16.
                var wq = Vector256.Load(blocks[b].Qs);
                var xv = Vector256.Load(xq + 32 * b);
                var p16 = Avx2.MultiplyAddAdjacent(Avx2.Abs(wq), Avx2.Sign(xv, wq));
                var p = Avx2.MultiplyAddAdjacent(p16, ones);
                acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(Fp16Codec.ToSingle(blocks[b].D) * xd[b]), acc);
            }
            return Vector256.Sum(acc);
        }
        float sum = 0;
        for (int b = 0; b < nb; b++)
        {
            int dot = 0;
            sbyte* wq = blocks[b].Qs;
            sbyte* xb = xq + 32 * b;
            for (int j = 0; j < 32; j++) dot += wq[j] * xb[j];
            sum += dot * (Fp16Codec.ToSingle(blocks[b].D) * xd[b]);
        }
        return sum;
    }

    /// <summary>One Q8_0 block: (w+128)·x summed from −128·Σx (exact signed dot), scaled and accumulated.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Q8_0Block(Vector256<float> acc, byte* block, sbyte* x, int corr, Vector256<float> scale)
    {
        var u = Vector256.Load(block + 2) ^ Vector256.Create((byte)0x80);
        var p = AvxVnni.MultiplyWideningAndAdd(Vector256.CreateScalar(corr), u, Vector256.Load(x));
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), scale, acc);
    }

    /// <summary>The fp16 scales that open eight consecutive blocks of <paramref name="stride"/> bytes, as floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> HalfScales8(byte* p, int stride)
    {
        var h = Vector128.Create(*(ushort*)p, *(ushort*)(p + stride), *(ushort*)(p + 2 * stride), *(ushort*)(p + 3 * stride),
            *(ushort*)(p + 4 * stride), *(ushort*)(p + 5 * stride), *(ushort*)(p + 6 * stride), *(ushort*)(p + 7 * stride));
        return Fp16Codec.Widen(Avx2.ConvertToVector256Int32(h).AsUInt32());
    }

    /// <summary>
    /// Σ over blocks of d_w·d_x·Σ (q−8)·x_q for one Q4_0 weight row. <paramref name="xc"/> holds −8·Σx_q per block.
    /// </summary>
    internal static float DotQ4_0(byte* w, sbyte* xq, float* xd, int* xc, int nb)
    {
        if (AvxVnni.IsSupported && Fma.IsSupported) return DotVnni<Q4_0VnniBlock>(w, xq, xd, xc, nb);
        var blocks = (BlockQ4_0*)w;
        if (Avx2.IsSupported && Fma.IsSupported)
        {
            var acc = Vector256<float>.Zero;
            var ones = Vector256.Create((short)1);
            for (int b = 0; b < nb; b++)
            {
                var p16 = Avx2.MultiplyAddAdjacent(Q4_0Codes(blocks[b].Qs), Vector256.Load(xq + 32 * b));
                var p = Avx2.Add(Avx2.MultiplyAddAdjacent(p16, ones), Vector256.CreateScalar(xc[b]));
                acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), Vector256.Create(Fp16Codec.ToSingle(blocks[b].D) * xd[b]), acc);
            }
            return Vector256.Sum(acc);
        }
        float sum = 0;
        for (int b = 0; b < nb; b++)
        {
            int dot = 0;
            byte* qs = blocks[b].Qs;
            sbyte* xb = xq + 32 * b;
            for (int j = 0; j < 16; j++) dot += ((qs[j] & 0xF) - 8) * xb[j] + ((qs[j] >> 4) - 8) * xb[j + 16];
            sum += dot * (Fp16Codec.ToSingle(blocks[b].D) * xd[b]);
        }
        return sum;
    }

    /// <summary>Elements 0..15 are the low nibbles, 16..31 the high nibbles: one 256-bit vector of codes 0..15.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Q4_0Codes(byte* qs)
    {
        var packed = Vector128.Load(qs);
        return Vector256.Create(packed, Vector128.ShiftRightLogical(packed.AsUInt16(), 4).AsByte()) & Vector256.Create((byte)0x0F);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Q4_0Block(Vector256<float> acc, byte* block, sbyte* x, int corr, Vector256<float> scale)
    {
        var p = AvxVnni.MultiplyWideningAndAdd(Vector256.CreateScalar(corr), Q4_0Codes(block + 2), Vector256.Load(x));
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), scale, acc);
    }

    [ThreadStatic] private static byte[]? t_activationScratch;

    /// <summary>
    /// Per-thread pinned scratch for quantized activations (grown, never shrunk), so a decode step allocates nothing.
    /// Only the calling thread writes it; pool workers read it while the call is in flight.
    /// </summary>
    private static byte* ActivationScratch(long bytes)
    {
        var buf = t_activationScratch;
        if (buf == null || buf.Length < bytes)
        {
            if (bytes > Array.MaxLength) throw new ArgumentException($"Linear: activations need {bytes} bytes of scratch, more than one array can hold");
            long size = Math.Max(bytes, Math.Min(Array.MaxLength, (buf?.Length ?? 0) * 2L));
            buf = GC.AllocateUninitializedArray<byte>((int)size, pinned: true);
            t_activationScratch = buf;
        }
        return (byte*)Unsafe.AsPointer(ref buf[0]);
    }
}
