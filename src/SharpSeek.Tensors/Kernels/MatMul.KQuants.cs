using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using SharpSeek.Tensors.Quantization;
using SharpSeek.Tensors.Threading;

namespace SharpSeek.Tensors.Kernels;

// Q4_K and Q6_K weights against Q8_K activations.
//
// Per 256-element super-block both kernels keep one integer accumulator: u8 weight codes × s8 activations are summed
// pairwise into int16 (vpmaddubsw; at most 63·127·2 = 16002, no saturation), then multiplied by the sub-block's 6/8-bit
// scale and summed pairwise into int32 (vpdpwssd with AVX-VNNI, vpmaddwd + add without). The offsets (Q4_K's mins,
// Q6_K's −32) are applied through the activation's 16-element block sums, so the inner loop never subtracts.
public static unsafe partial class MatMul
{
    private static void LinearQ8_KActivations(Tensor weight, float* x, float* y, int m, int n, int k, ComputePool pool)
    {
        int nb = k / 256;
        var act = (BlockQ8_K*)ActivationScratch((long)m * nb * sizeof(BlockQ8_K));
        for (int i = 0; i < m; i++) ActivationQuantizer.QuantizeQ8_K(x + (long)i * k, k, act + (long)i * nb);
        if (weight.DType == DType.Q4_K && UseWideQ4K)
            for (long b = 0; b < (long)m * nb; b++) ArrangeForWideQ4K(act + b);

        long rowBytes = DTypeInfo.ByteCount(weight.DType, k);
        var body = new Q8_KActivationBody
        {
            W = weight.Data, Stride = weight.RowStrideBytes, Act = act, Y = y, M = m, N = n, Blocks = nb,
            IsQ6 = weight.DType == DType.Q6_K, TileRows = TileRows(rowBytes),
        };
        pool.For(n, Grain(rowBytes * m), ref body);
    }

    private struct Q8_KActivationBody : IRangeBody
    {
        public byte* W;
        public long Stride;
        public BlockQ8_K* Act;
        public float* Y;
        public int M, N, Blocks, TileRows;
        public bool IsQ6;

        public readonly void Execute(int start, int end, int worker)
        {
            for (int r0 = start; r0 < end; r0 += TileRows)
            {
                int r1 = Math.Min(end, r0 + TileRows);
                for (int i = 0; i < M; i++)
                {
                    BlockQ8_K* a = Act + (long)i * Blocks;
                    float* yi = Y + (long)i * N;
                    if (IsQ6)
                        for (int j = r0; j < r1; j++) yi[j] = DotQ6_K((BlockQ6_K*)(W + j * Stride), a, Blocks);
                    else
                        for (int j = r0; j < r1; j++) yi[j] = DotQ4_K((BlockQ4_K*)(W + j * Stride), a, Blocks);
                }
            }
        }
    }

    // vpshufb patterns that broadcast one 16-bit scale across a 128-bit lane. Q4_K: word j of an 8-word lane in both
    // lanes. Q6_K: word 2k in the low lane and word 2k+1 in the high lane (the two 16-element halves of a 32-run).
    private static readonly Vector256<byte> s_q4kWord0 = WordBroadcast(0, 0), s_q4kWord1 = WordBroadcast(1, 1),
        s_q4kWord2 = WordBroadcast(2, 2), s_q4kWord3 = WordBroadcast(3, 3), s_q4kWord4 = WordBroadcast(4, 4),
        s_q4kWord5 = WordBroadcast(5, 5), s_q4kWord6 = WordBroadcast(6, 6), s_q4kWord7 = WordBroadcast(7, 7);
    private static readonly Vector256<byte> s_q6kPair0 = WordBroadcast(0, 1), s_q6kPair1 = WordBroadcast(2, 3),
        s_q6kPair2 = WordBroadcast(4, 5), s_q6kPair3 = WordBroadcast(6, 7);

    private static Vector256<byte> WordBroadcast(int lowLaneWord, int highLaneWord)
        => Vector256.Create(Vector128.Create((ushort)(2 * lowLaneWord | (2 * lowLaneWord + 1) << 8)).AsByte(),
                            Vector128.Create((ushort)(2 * highLaneWord | (2 * highLaneWord + 1) << 8)).AsByte());

    /// <summary>Adds Σ pairs of <paramref name="p"/>·<paramref name="scale"/> (int16 → int32) to <paramref name="acc"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> AddScaledPairs(Vector256<int> acc, Vector256<short> p, Vector256<short> scale)
        => AvxVnni.IsSupported ? AvxVnni.MultiplyWideningAndAdd(acc, p, scale) : Avx2.Add(acc, Avx2.MultiplyAddAdjacent(p, scale));

    /// <summary>The 512-bit Q4_K kernel, which reads activations arranged by <see cref="ArrangeForWideQ4K"/>.</summary>
    private static bool UseWideQ4K => Avx512BW.IsSupported && Avx2.IsSupported && Fma.IsSupported;

    /// <summary>
    /// Rearranges a Q8_K block for the 512-bit Q4_K kernel. A 64-byte load of Q4_K nibbles holds sub-blocks (2g, 2g+2)
    /// in its low and (2g+1, 2g+3) in its high nibbles, so each 128-element half of the quants is reordered to
    /// [0..31, 64..95, 32..63, 96..127] to line up without shuffling the weights; and BSums[0..7] become the sums of the
    /// 32-element sub-blocks (the Q4_K min terms need nothing finer).
    /// </summary>
    private static void ArrangeForWideQ4K(BlockQ8_K* blk)
    {
        sbyte* q = blk->Qs;
        for (int h = 0; h < 256; h += 128)
        {
            var v1 = Vector256.Load(q + h + 32);
            Vector256.Load(q + h + 64).Store(q + h + 32);
            v1.Store(q + h + 64);
        }
        short* s = blk->BSums;
        for (int j = 0; j < 8; j++) s[j] = (short)(s[2 * j] + s[2 * j + 1]);
    }

    /// <summary>Dot of one Q4_K weight row with one Q8_K activation row (arranged for the 512-bit kernel when it is used).</summary>
    internal static float DotQ4_K(BlockQ4_K* w, BlockQ8_K* x, int nb)
    {
        if (UseWideQ4K)
        {
            var acc = Vector512<float>.Zero;
            var minAcc = Vector128<float>.Zero;
            var low = Vector512.Create((byte)0x0F);
            var idx02 = Vector512.Create(Vector256.Create((short)0), Vector256.Create((short)2));
            var idx13 = Vector512.Create(Vector256.Create((short)1), Vector256.Create((short)3));
            var idx46 = Vector512.Create(Vector256.Create((short)4), Vector256.Create((short)6));
            var idx57 = Vector512.Create(Vector256.Create((short)5), Vector256.Create((short)7));
            for (int b = 0; b < nb; b++)
            {
                BlockQ4_K* wb = w + b;
                BlockQ8_K* xb = x + b;
                var sc = Q4KHeader(wb, xb, pairSumsReady: true, ref minAcc, out float d).ToVector256Unsafe().ToVector512Unsafe();
                sbyte* y = xb->Qs;
                var q0 = Vector512.Load(wb->Qs);
                var q1 = Vector512.Load(wb->Qs + 64);
                var lo0 = q0 & low;                                                          // sub-blocks 0, 2
                var hi0 = Avx512BW.ShiftRightLogical(q0.AsUInt16(), 4).AsByte() & low;       // sub-blocks 1, 3
                var lo1 = q1 & low;                                                          // sub-blocks 4, 6
                var hi1 = Avx512BW.ShiftRightLogical(q1.AsUInt16(), 4).AsByte() & low;       // sub-blocks 5, 7
                var i0 = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(lo0, Vector512.Load(y)), Avx512BW.PermuteVar32x16(sc, idx02))
                       + Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(hi0, Vector512.Load(y + 64)), Avx512BW.PermuteVar32x16(sc, idx13));
                var i1 = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(lo1, Vector512.Load(y + 128)), Avx512BW.PermuteVar32x16(sc, idx46))
                       + Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(hi1, Vector512.Load(y + 192)), Avx512BW.PermuteVar32x16(sc, idx57));
                acc = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(i0 + i1), Vector512.Create(d), acc);
            }
            return Vector512.Sum(acc) - Vector128.Sum(minAcc);
        }
        if (Avx2.IsSupported && Fma.IsSupported)
        {
            var acc = Vector256<float>.Zero;
            var minAcc = Vector128<float>.Zero;
            var low = Vector256.Create((byte)0x0F);
            for (int b = 0; b < nb; b++)
            {
                BlockQ4_K* wb = w + b;
                BlockQ8_K* xb = x + b;
                var sc16 = Q4KHeader(wb, xb, pairSumsReady: false, ref minAcc, out float d);
                var scales = Vector256.Create(sc16, sc16).AsByte();
                // Two integer chains (even and odd groups) halve the serial latency per super-block.
                var i0 = Vector256<int>.Zero;
                var i1 = Vector256<int>.Zero;
                byte* q = wb->Qs;
                sbyte* y = xb->Qs;
                i0 = Q4KGroup(i0, q, y, low, Avx2.Shuffle(scales, s_q4kWord0).AsInt16(), Avx2.Shuffle(scales, s_q4kWord1).AsInt16());
                i1 = Q4KGroup(i1, q + 32, y + 64, low, Avx2.Shuffle(scales, s_q4kWord2).AsInt16(), Avx2.Shuffle(scales, s_q4kWord3).AsInt16());
                i0 = Q4KGroup(i0, q + 64, y + 128, low, Avx2.Shuffle(scales, s_q4kWord4).AsInt16(), Avx2.Shuffle(scales, s_q4kWord5).AsInt16());
                i1 = Q4KGroup(i1, q + 96, y + 192, low, Avx2.Shuffle(scales, s_q4kWord6).AsInt16(), Avx2.Shuffle(scales, s_q4kWord7).AsInt16());
                acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i0 + i1), Vector256.Create(d), acc);
            }
            return Vector256.Sum(acc) - Vector128.Sum(minAcc);
        }
        float sum = 0;
        for (int b = 0; b < nb; b++)
        {
            BlockQ4_K* wb = w + b;
            BlockQ8_K* xb = x + b;
            BlockQuantizer.UnpackQ4KScales(wb->Scales, out ulong sc, out ulong mn);
            int sumi = 0, summ = 0;
            for (int g = 0; g < 4; g++)
            {
                int dotLo = 0, dotHi = 0;
                for (int l = 0; l < 32; l++)
                {
                    byte qv = wb->Qs[32 * g + l];
                    dotLo += (qv & 0xF) * xb->Qs[64 * g + l];
                    dotHi += (qv >> 4) * xb->Qs[64 * g + 32 + l];
                }
                sumi += (byte)(sc >> (16 * g)) * dotLo + (byte)(sc >> (16 * g + 8)) * dotHi;
            }
            for (int j = 0; j < 8; j++) summ += (byte)(mn >> (8 * j)) * (xb->BSums[2 * j] + xb->BSums[2 * j + 1]);
            sum += Fp16Codec.ToSingle(wb->D) * xb->D * sumi - Fp16Codec.ToSingle(wb->DMin) * xb->D * summ;
        }
        return sum;
    }

    /// <summary>
    /// The per-super-block scalar work of Q4_K, done in 128-bit vectors: widens d and dmin together (times the
    /// activation scale), unpacks the eight 6-bit scales and mins (same bit layout as
    /// <see cref="BlockQuantizer.UnpackQ4KScales"/>, on lanes [a, b, c] of the 12 bytes), and adds
    /// dmin·Σ_j min[j]·(activation sum of sub-block j) to <paramref name="minAcc"/> (those sums are BSums[0..7] when
    /// <paramref name="pairSumsReady"/>, else pairs of BSums). Returns the scales as 8 int16.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<short> Q4KHeader(BlockQ4_K* wb, BlockQ8_K* xb, bool pairSumsReady, ref Vector128<float> minAcc, out float d)
    {
        var dd = Fp16Codec.Widen(Sse41.ConvertToVector128Int32(Vector128.CreateScalar(*(uint*)wb).AsUInt16()).AsUInt32()) * xb->D;
        d = dd.ToScalar();
        // 16-byte load: the 12 scale bytes plus the first 4 nibble bytes of the same block (lane 3, unused).
        var v = Vector128.Load((uint*)wb->Scales);
        var lows = v & Vector128.Create(0x3F3F3F3Fu);                                              // [sc 0..3, min 0..3, ·, ·]
        var c = Sse2.Shuffle(v, 0b10_10_10_10);
        var highLow4 = Avx2.ShiftRightLogicalVariable(c, Vector128.Create(0u, 4u, 0u, 0u)) & Vector128.Create(0x0F0F0F0Fu);
        var highTop2 = ((v >> 6) & Vector128.Create(0x03030303u)) << 4;
        var packed = Sse2.UnpackLow(lows, highLow4 | highTop2).AsByte();                          // [sc 0..7 | min 0..7]
        var pairSums = pairSumsReady ? Vector128.Load(xb->BSums) : Ssse3.HorizontalAdd(Vector128.Load(xb->BSums), Vector128.Load(xb->BSums + 8));
        var mins = Sse41.ConvertToVector128Int16(Sse2.ShiftRightLogical128BitLane(packed, 8));
        var minDot = Sse2.ConvertToVector128Single(Sse2.MultiplyAddAdjacent(pairSums, mins));
        minAcc = Fma.MultiplyAdd(minDot, Vector128.Create(dd.GetElement(1)), minAcc);
        return Sse41.ConvertToVector128Int16(packed);
    }

    /// <summary>One 32-byte group of Q4_K nibbles: low nibbles meet activations y[0..31] (scale s0), high nibbles y[32..63] (scale s1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Q4KGroup(Vector256<int> acc, byte* q, sbyte* y, Vector256<byte> low, Vector256<short> s0, Vector256<short> s1)
    {
        var qv = Vector256.Load(q);
        var lo = qv & low;
        var hi = Avx2.ShiftRightLogical(qv.AsUInt16(), 4).AsByte() & low;
        // The two halves are summed pairwise before joining the chain, so the chain grows by one op per group.
        var p = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(lo, Vector256.Load(y)), s0);
        return AddScaledPairs(acc + p, Avx2.MultiplyAddAdjacent(hi, Vector256.Load(y + 32)), s1);
    }

    /// <summary>Dot of one Q6_K weight row with one Q8_K activation row.</summary>
    internal static float DotQ6_K(BlockQ6_K* w, BlockQ8_K* x, int nb)
    {
        if (Avx2.IsSupported && Fma.IsSupported)
        {
            var acc = Vector256<float>.Zero;
            var low = Vector256.Create((byte)0x0F);
            var high2 = Vector256.Create((byte)0x30);
            for (int b = 0; b < nb; b++)
            {
                BlockQ6_K* wb = w + b;
                BlockQ8_K* xb = x + b;
                float d = Fp16Codec.ToSingle(wb->D) * xb->D;
                var sc16 = Avx2.ConvertToVector256Int16(Vector128.Load(wb->Scales));
                // The −32 offset: Σ_s scale[s]·bsum[s], taken out of the accumulator as 32× that.
                var offset = Avx2.MultiplyAddAdjacent(sc16, Vector256.Load(xb->BSums));
                var i0 = Vector256<int>.Zero;
                var i1 = Vector256<int>.Zero;
                for (int h = 0; h < 2; h++)
                {
                    var scales = (h == 0 ? Vector256.Create(sc16.GetLower(), sc16.GetLower()) : Vector256.Create(sc16.GetUpper(), sc16.GetUpper())).AsByte();
                    var ql0 = Vector256.Load(wb->Ql + 64 * h);
                    var ql1 = Vector256.Load(wb->Ql + 64 * h + 32);
                    var qh = Vector256.Load(wb->Qh + 32 * h).AsUInt16();
                    sbyte* y = xb->Qs + 128 * h;
                    var q1 = (ql0 & low) | (Avx2.ShiftLeftLogical(qh, 4).AsByte() & high2);
                    var q2 = (ql1 & low) | (Avx2.ShiftLeftLogical(qh, 2).AsByte() & high2);
                    var q3 = (Avx2.ShiftRightLogical(ql0.AsUInt16(), 4).AsByte() & low) | (qh.AsByte() & high2);
                    var q4 = (Avx2.ShiftRightLogical(ql1.AsUInt16(), 4).AsByte() & low) | (Avx2.ShiftRightLogical(qh, 2).AsByte() & high2);
                    i0 = AddScaledPairs(i0, Avx2.MultiplyAddAdjacent(q1, Vector256.Load(y)), Avx2.Shuffle(scales, s_q6kPair0).AsInt16());
                    i1 = AddScaledPairs(i1, Avx2.MultiplyAddAdjacent(q2, Vector256.Load(y + 32)), Avx2.Shuffle(scales, s_q6kPair1).AsInt16());
                    i0 = AddScaledPairs(i0, Avx2.MultiplyAddAdjacent(q3, Vector256.Load(y + 64)), Avx2.Shuffle(scales, s_q6kPair2).AsInt16());
                    i1 = AddScaledPairs(i1, Avx2.MultiplyAddAdjacent(q4, Vector256.Load(y + 96)), Avx2.Shuffle(scales, s_q6kPair3).AsInt16());
                }
                var iacc = (i0 + i1) - Avx2.ShiftLeftLogical(offset, 5);
                acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(iacc), Vector256.Create(d), acc);
            }
            return Vector256.Sum(acc);
        }
        float sum = 0;
        Span<int> sub = stackalloc int[16];
        for (int b = 0; b < nb; b++)
        {
            BlockQ6_K* wb = w + b;
            BlockQ8_K* xb = x + b;
            sub.Clear();
            for (int h = 0; h < 2; h++)
            {
                byte* ql = wb->Ql + 64 * h;
                byte* qh = wb->Qh + 32 * h;
                sbyte* y = xb->Qs + 128 * h;
                for (int l = 0; l < 32; l++)
                {
                    int s = 8 * h + l / 16;
                    sub[s] += ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) * y[l];
                    sub[s + 2] += ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) * y[l + 32];
                    sub[s + 4] += ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) * y[l + 64];
                    sub[s + 6] += ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) * y[l + 96];
                }
            }
            int sumi = 0;
            for (int s = 0; s < 16; s++) sumi += wb->Scales[s] * (sub[s] - 32 * xb->BSums[s]);
            sum += Fp16Codec.ToSingle(wb->D) * xb->D * sumi;
        }
        return sum;
    }
}
