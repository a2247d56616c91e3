using System.Numerics;
using SharpSeek.Training.Autodiff;

namespace SharpSeek.Training.Precision;

/// <summary>
/// The three GEMMs of a linear layer y = x·Wᵀ, with the operands rounded per <see cref="GemmPrecision"/>. The FP8
/// tiling always runs along each GEMM's reduction dimension, as in DeepSeek-V3: forward reduces over input channels
/// (x in 1×128 tiles, W in 128×128 blocks), input gradient over output channels (dy in 1×128 tiles, the same W
/// blocks), weight gradient over tokens (dy and x in 128×1 tiles). f64 tapes ignore the precision.
/// </summary>
internal static unsafe class PrecisionGemm
{
    /// <summary>y[n, out] = x[n, in]·W[out, in]ᵀ (added to y when <paramref name="accumulate"/>).</summary>
    public static void Forward<T>(Tape<T> tape, GemmPrecision precision, T* x, int n, int inDim, T* w, int outDim, T* y, bool accumulate)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        T beta = accumulate ? T.One : T.Zero;
        if (typeof(T) != typeof(float) || precision == GemmPrecision.F32)
        {
            MatMul.Multiply(false, true, n, outDim, inDim, T.One, x, inDim, w, inDim, beta, y, outDim, tape.Pool);
            return;
        }
        float* xr = Round(tape, precision, (float*)x, n, inDim, tileRows: 1, tileCols: GemmOperandRounding.Tile);
        float* wr = tape.WeightOperands.Get((float*)w, outDim, inDim, precision);
        MatMul.Multiply(false, true, n, outDim, inDim, 1f, xr, inDim, wr, inDim, float.CreateTruncating(beta), (float*)y, outDim, tape.Pool);
        tape.ReturnFloats(xr);
    }

    /// <summary>dx[n, in] += dy[n, out]·W[out, in].</summary>
    public static void BackwardInput<T>(Tape<T> tape, GemmPrecision precision, T* dy, int n, int outDim, T* w, int inDim, T* dx)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (typeof(T) != typeof(float) || precision == GemmPrecision.F32)
        {
            MatMul.Multiply(false, false, n, inDim, outDim, T.One, dy, outDim, w, inDim, T.One, dx, inDim, tape.Pool);
            return;
        }
        float* dyr = Round(tape, precision, (float*)dy, n, outDim, tileRows: 1, tileCols: GemmOperandRounding.Tile);
        float* wr = tape.WeightOperands.Get((float*)w, outDim, inDim, precision);
        MatMul.Multiply(false, false, n, inDim, outDim, 1f, dyr, outDim, wr, inDim, 1f, (float*)dx, inDim, tape.Pool);
        tape.ReturnFloats(dyr);
    }

    /// <summary>dW[out, in] += dy[n, out]ᵀ·x[n, in].</summary>
    public static void BackwardWeight<T>(Tape<T> tape, GemmPrecision precision, T* dy, int n, int outDim, T* x, int inDim, T* dw)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (typeof(T) != typeof(float) || precision == GemmPrecision.F32)
        {
            MatMul.Multiply(true, false, outDim, inDim, n, T.One, dy, outDim, x, inDim, T.One, dw, inDim, tape.Pool);
            return;
        }
        float* dyr = Round(tape, precision, (float*)dy, n, outDim, tileRows: GemmOperandRounding.Tile, tileCols: 1);
        float* xr = Round(tape, precision, (float*)x, n, inDim, tileRows: GemmOperandRounding.Tile, tileCols: 1);
        MatMul.Multiply(true, false, outDim, inDim, n, 1f, dyr, outDim, xr, inDim, 1f, (float*)dw, inDim, tape.Pool);
        tape.ReturnFloats(xr);
        tape.ReturnFloats(dyr);
    }

    private static float* Round<T>(Tape<T> tape, GemmPrecision precision, float* src, int rows, int cols, int tileRows, int tileCols)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        float* dst = tape.RentFloats((long)rows * cols);
        if (precision == GemmPrecision.BF16) GemmOperandRounding.RoundToBf16(src, rows, cols, dst, tape.Pool);
        else GemmOperandRounding.QuantizeE4M3(src, rows, cols, tileRows, tileCols, dst, tape.Pool);
        return dst;
    }
}
