using System.Runtime.CompilerServices;

namespace SharpSeek.Tensors;

/// <summary>
/// A shaped, strided view over native memory. Shapes are outermost-first (row-major, as in safetensors and numpy):
/// a linear weight <c>[out, in]</c> has <see cref="Rows"/> = out and <see cref="Cols"/> = in.
/// </summary>
/// <remarks>
/// Plain dtypes may be strided; block-quantized dtypes are always row-contiguous (a row is a run of whole blocks).
/// A tensor either owns its memory (disposing frees it) or borrows it from an owner kept alive through
/// <see cref="KeepAlive"/> (a parent tensor or a memory-mapped file), so views never dangle.
/// </remarks>
public sealed unsafe class Tensor : IDisposable
{
    private NativeBuffer? _owned;

    public DType DType { get; }
    public int[] Shape { get; }
    /// <summary>Element strides per dimension (plain dtypes). For block dtypes the row stride is <see cref="RowStrideBytes"/>.</summary>
    public long[] Strides { get; }
    public byte* Data { get; }
    public long ByteLength { get; }
    /// <summary>For <see cref="DType.F8E4M3"/> weights: F32 scales of shape [ceil(rows/128), ceil(cols/128)] (DeepSeek's <c>weight_scale_inv</c>).</summary>
    public Tensor? BlockScales { get; private set; }
    /// <summary>Whatever must stay alive while this view is used (parent tensor, mapped file).</summary>
    public object? KeepAlive { get; }

    public const int Fp8BlockSize = 128;

    private Tensor(DType dtype, int[] shape, long[] strides, byte* data, long byteLength, NativeBuffer? owned, object? keepAlive)
    {
        DType = dtype;
        Shape = shape;
        Strides = strides;
        Data = data;
        ByteLength = byteLength;
        _owned = owned;
        KeepAlive = keepAlive;
    }

    public int Rank => Shape.Length;
    public long ElementCount => ShapeElements(Shape);
    /// <summary>Last dimension.</summary>
    public int Cols => Shape.Length == 0 ? 1 : Shape[^1];
    /// <summary>Product of all dimensions but the last.</summary>
    public long Rows => Shape.Length == 0 ? 1 : ShapeElements(Shape.AsSpan(0, Shape.Length - 1));
    public long RowStrideBytes => DTypeInfo.IsBlockQuantized(DType) || Rank < 2
        ? DTypeInfo.ByteCount(DType, Cols)
        : Strides[^2] * DTypeInfo.BlockBytes(DType);

    public bool IsContiguous
    {
        get
        {
            long expect = 1;
            for (int d = Rank - 1; d >= 0; d--)
            {
                if (Shape[d] != 1 && Strides[d] != expect) return false;
                expect *= Shape[d];
            }
            return true;
        }
    }

    public static long ShapeElements(ReadOnlySpan<int> shape)
    {
        long n = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"negative dimension {d} in shape [{string.Join(", ", shape.ToArray())}]");
            n = checked(n * d);
        }
        return n;
    }

    private static long[] ContiguousStrides(int[] shape)
    {
        var s = new long[shape.Length];
        long acc = 1;
        for (int d = shape.Length - 1; d >= 0; d--) { s[d] = acc; acc *= shape[d]; }
        return s;
    }

    /// <summary>Allocates a zeroed, 64-byte-aligned tensor.</summary>
    public static Tensor Allocate(DType dtype, params int[] shape)
    {
        shape = (int[])shape.Clone();
        long bytes = DTypeInfo.ByteCount(dtype, ShapeElements(shape));
        if (DTypeInfo.IsBlockQuantized(dtype) && shape.Length > 0 && shape[^1] % DTypeInfo.BlockElements(dtype) != 0)
            throw new ArgumentException($"{dtype} rows must hold whole blocks of {DTypeInfo.BlockElements(dtype)}; row length {shape[^1]} does not");
        var buf = new NativeBuffer(bytes);
        return new Tensor(dtype, shape, ContiguousStrides(shape), buf.Pointer, bytes, buf, null);
    }

    /// <summary>Copies a managed float array into a new F32 tensor.</summary>
    public static Tensor FromArray(ReadOnlySpan<float> values, params int[] shape)
    {
        if (ShapeElements(shape) != values.Length)
            throw new ArgumentException($"shape [{string.Join(", ", shape)}] holds {ShapeElements(shape)} elements but {values.Length} values were given");
        var t = Allocate(DType.F32, shape);
        values.CopyTo(t.AsSpan<float>());
        return t;
    }

    /// <summary>Wraps existing memory (e.g. a memory-mapped file region) without copying.</summary>
    /// <param name="keepAlive">object that owns <paramref name="data"/> and must outlive the view.</param>
    public static Tensor FromPointer(DType dtype, int[] shape, byte* data, long byteLength, object? keepAlive)
    {
        shape = (int[])shape.Clone();
        long need = DTypeInfo.ByteCount(dtype, ShapeElements(shape));
        if (DTypeInfo.IsBlockQuantized(dtype) && shape.Length > 0 && shape[^1] % DTypeInfo.BlockElements(dtype) != 0)
            throw new ArgumentException($"{dtype} rows must hold whole blocks of {DTypeInfo.BlockElements(dtype)}; row length {shape[^1]} does not");
        if (byteLength < need)
            throw new ArgumentException($"{dtype} tensor of shape [{string.Join(", ", shape)}] needs {need} bytes but only {byteLength} are available");
        return new Tensor(dtype, shape, ContiguousStrides(shape), data, need, null, keepAlive);
    }

    /// <summary>Attaches DeepSeek FP8 128×128 block scales (F32, [ceil(rows/128), ceil(cols/128)]).</summary>
    public Tensor WithBlockScales(Tensor scales)
    {
        if (DType != DType.F8E4M3) throw new InvalidOperationException($"block scales belong to F8E4M3 weights, not {DType}");
        if (scales.DType != DType.F32) throw new ArgumentException($"FP8 block scales must be F32, got {scales.DType}");
        long wantR = (Rows + Fp8BlockSize - 1) / Fp8BlockSize, wantC = (Cols + Fp8BlockSize - 1) / Fp8BlockSize;
        if (scales.Rank != 2 || scales.Shape[0] != wantR || scales.Shape[1] != wantC)
            throw new ArgumentException($"FP8 weight [{Rows}, {Cols}] needs block scales [{wantR}, {wantC}], got [{string.Join(", ", scales.Shape)}]");
        BlockScales = scales;
        return this;
    }

    /// <summary>Same memory, new shape (contiguous tensors only).</summary>
    public Tensor Reshape(params int[] shape)
    {
        if (ShapeElements(shape) != ElementCount)
            throw new ArgumentException($"cannot reshape [{string.Join(", ", Shape)}] ({ElementCount} elements) to [{string.Join(", ", shape)}]");
        if (!IsContiguous) throw new InvalidOperationException("only contiguous tensors can be reshaped");
        if (DTypeInfo.IsBlockQuantized(DType) && shape[^1] % DTypeInfo.BlockElements(DType) != 0)
            throw new ArgumentException($"{DType} rows must hold whole blocks; row length {shape[^1]} does not");
        return new Tensor(DType, (int[])shape.Clone(), ContiguousStrides(shape), Data, ByteLength, null, this) { BlockScales = BlockScales };
    }

    /// <summary>Sub-tensor <c>[start, start+count)</c> along the first dimension.</summary>
    public Tensor Narrow(int start, int count)
    {
        if (Rank == 0) throw new InvalidOperationException("cannot narrow a scalar");
        if ((uint)start > (uint)Shape[0] || (uint)count > (uint)(Shape[0] - start))
            throw new ArgumentOutOfRangeException(nameof(start), $"range [{start}, {start + count}) is outside dimension 0 of size {Shape[0]}");
        long stride0Bytes = DTypeInfo.IsBlockQuantized(DType)
            ? DTypeInfo.ByteCount(DType, ShapeElements(Shape.AsSpan(1)))
            : Strides[0] * DTypeInfo.BlockBytes(DType);
        var shape = (int[])Shape.Clone();
        shape[0] = count;
        long bytes = DTypeInfo.IsBlockQuantized(DType) ? DTypeInfo.ByteCount(DType, ShapeElements(shape)) : count * stride0Bytes;
        return new Tensor(DType, shape, (long[])Strides.Clone(), Data + start * stride0Bytes, bytes, null, this);
    }

    /// <summary>Whole contiguous tensor as a span of <typeparamref name="T"/>.</summary>
    public Span<T> AsSpan<T>() where T : unmanaged
    {
        if (!IsContiguous) throw new InvalidOperationException("tensor is not contiguous");
        long count = ByteLength / sizeof(T);
        if (count > int.MaxValue) throw new InvalidOperationException($"tensor of {ByteLength} bytes is too large for one span; use RowSpan");
        return new Span<T>(Data, (int)count);
    }

    /// <summary>Row <paramref name="row"/> (all dims but the last flattened) as raw bytes.</summary>
    public Span<byte> RowBytes(long row)
    {
        if ((ulong)row >= (ulong)Rows) throw new ArgumentOutOfRangeException(nameof(row), row, $"tensor has {Rows} rows");
        long rb = DTypeInfo.ByteCount(DType, Cols);
        return new Span<byte>(Data + row * RowStrideBytes, checked((int)rb));
    }

    /// <summary>Row <paramref name="row"/> of a plain-dtype tensor as a span of <typeparamref name="T"/>.</summary>
    public Span<T> RowSpan<T>(long row) where T : unmanaged
    {
        if (DTypeInfo.IsBlockQuantized(DType)) throw new InvalidOperationException($"{DType} rows are blocks, use RowBytes");
        if (Rank >= 1 && Strides[^1] != 1) throw new InvalidOperationException("last dimension is not contiguous");
        var b = RowBytes(row);
        return MemoryMarshalCast<T>(b);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Span<T> MemoryMarshalCast<T>(Span<byte> b) where T : unmanaged
        => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, T>(b);

    public override string ToString() => $"Tensor<{DType}>[{string.Join(", ", Shape)}]";

    public void Dispose()
    {
        _owned?.Dispose();
        _owned = null;
    }
}
