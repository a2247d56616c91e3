using System.Buffers.Binary;

namespace SharpSeek.Tensors.Tests.Reference;

/// <summary>
/// Plain float64 decoders written straight from the format definitions (GGML's block layouts, E4M3's bit fields),
/// deliberately element by element and independent of the production code's word tricks, plus float64 dot products.
/// Tests compare the production codecs and kernels against these.
/// </summary>
public static class Float64Reference
{
    public static double Half(ushort bits) => (double)BitConverter.UInt16BitsToHalf(bits);

    public static double BFloat16(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>E4M3 from its fields: (−1)^s · 2^(e−7) · (1 + m/8), subnormal 2^−6 · m/8, S.1111.111 = NaN.</summary>
    public static double E4M3(byte code)
    {
        int s = code >> 7, e = (code >> 3) & 15, m = code & 7;
        if (e == 15 && m == 7) return double.NaN;
        double mag = e == 0 ? Math.Pow(2, -6) * (m / 8.0) : Math.Pow(2, e - 7) * (1 + m / 8.0);
        return s == 1 ? -mag : mag;
    }

    /// <summary>Decodes <paramref name="elements"/> values of any weight dtype (FP8 without scales) from raw bytes.</summary>
    public static double[] Decode(DType type, ReadOnlySpan<byte> src, int elements)
    {
        var y = new double[elements];
        switch (type)
        {
            case DType.F32:
                for (int i = 0; i < elements; i++) y[i] = BinaryPrimitives.ReadSingleLittleEndian(src.Slice(4 * i));
                break;
            case DType.F16:
                for (int i = 0; i < elements; i++) y[i] = Half(BinaryPrimitives.ReadUInt16LittleEndian(src.Slice(2 * i)));
                break;
            case DType.BF16:
                for (int i = 0; i < elements; i++) y[i] = BFloat16(BinaryPrimitives.ReadUInt16LittleEndian(src.Slice(2 * i)));
                break;
            case DType.F8E4M3:
                for (int i = 0; i < elements; i++) y[i] = E4M3(src[i]);
                break;
            case DType.Q8_0:
                for (int b = 0; b < elements / 32; b++)
                {
                    var blk = src.Slice(34 * b, 34);
                    double d = Half(BinaryPrimitives.ReadUInt16LittleEndian(blk));
                    for (int j = 0; j < 32; j++) y[32 * b + j] = d * (sbyte)blk[2 + j];
                }
                break;
            case DType.Q4_0:
                for (int b = 0; b < elements / 32; b++)
                {
                    var blk = src.Slice(18 * b, 18);
                    double d = Half(BinaryPrimitives.ReadUInt16LittleEndian(blk));
                    for (int j = 0; j < 32; j++)
                    {
                        int q = j < 16 ? blk[2 + j] & 0xF : blk[2 + j - 16] >> 4;
                        y[32 * b + j] = (q - 8) * d;
                    }
                }
                break;
            case DType.Q4_K:
                for (int b = 0; b < elements / 256; b++)
                {
                    var blk = src.Slice(144 * b, 144);
                    double d = Half(BinaryPrimitives.ReadUInt16LittleEndian(blk));
                    double dmin = Half(BinaryPrimitives.ReadUInt16LittleEndian(blk.Slice(2)));
                    var scales = blk.Slice(4, 12);
                    var qs = blk.Slice(16, 128);
                    for (int i = 0; i < 256; i++)
                    {
                        int sub = i / 32;                 // sub-block 0..7
                        int group = sub / 2;              // 32-byte nibble group
                        int l = i % 32;
                        int q = sub % 2 == 0 ? qs[32 * group + l] & 0xF : qs[32 * group + l] >> 4;
                        Q4KScaleMin(scales, sub, out int sc, out int m);
                        y[256 * b + i] = d * sc * q - dmin * m;
                    }
                }
                break;
            case DType.Q6_K:
                for (int b = 0; b < elements / 256; b++)
                {
                    var blk = src.Slice(210 * b, 210);
                    var ql = blk.Slice(0, 128);
                    var qh = blk.Slice(128, 64);
                    var sc = blk.Slice(192, 16);
                    double d = Half(BinaryPrimitives.ReadUInt16LittleEndian(blk.Slice(208)));
                    for (int i = 0; i < 256; i++)
                    {
                        int half = i / 128, r = i % 128, quarter = r / 32, l = r % 32;
                        int lowByte = ql[64 * half + l + 32 * (quarter & 1)];
                        int low4 = quarter < 2 ? lowByte & 0xF : lowByte >> 4;
                        int high2 = (qh[32 * half + l] >> (2 * quarter)) & 3;
                        int q = (low4 | (high2 << 4)) - 32;
                        int scale = (sbyte)sc[8 * half + 2 * quarter + l / 16];
                        y[256 * b + i] = d * scale * q;
                    }
                }
                break;
            case DType.Q8_K:
                for (int b = 0; b < elements / 256; b++)
                {
                    var blk = src.Slice(292 * b, 292);
                    double d = BinaryPrimitives.ReadSingleLittleEndian(blk);
                    for (int j = 0; j < 256; j++) y[256 * b + j] = d * (sbyte)blk[4 + j];
                }
                break;
            default:
                throw new NotSupportedException(type.ToString());
        }
        return y;
    }

    /// <summary>GGML's 6-bit scale/min of Q4_K sub-block j, read field by field.</summary>
    public static void Q4KScaleMin(ReadOnlySpan<byte> s, int j, out int scale, out int min)
    {
        if (j < 4)
        {
            scale = s[j] & 63;
            min = s[j + 4] & 63;
        }
        else
        {
            scale = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
            min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
        }
    }

    /// <summary>Decodes a whole [rows, cols] tensor, applying FP8 block scales.</summary>
    public static double[] DecodeMatrix(Tensor t)
    {
        int rows = (int)t.Rows, cols = t.Cols;
        var w = new double[(long)rows * cols];
        for (int r = 0; r < rows; r++)
        {
            var row = Decode(t.DType, t.RowBytes(r), cols);
            if (t.DType == DType.F8E4M3 && t.BlockScales is { } scales)
                for (int c = 0; c < cols; c++) row[c] *= scales.RowSpan<float>(r / 128)[c / 128];
            row.CopyTo(w, (long)r * cols);
        }
        return w;
    }

    public static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<float> b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }

    public static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }
}
