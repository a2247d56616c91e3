using System.Runtime.InteropServices;
using SharpSeek.Tensors.Threading;

namespace SharpSeek.Training.Precision;

/// <summary>
/// Rounded copies of weight matrices for BF16/FP8 GEMMs. Weights change only at the optimizer step, so each is rounded
/// once per step and reused by every micro-batch and by both the forward and the input-gradient GEMM (a 128×128 block
/// serves W and Wᵀ alike, which is why DeepSeek chose square weight blocks). <see cref="Invalidate"/> after each update.
/// </summary>
internal sealed unsafe class WeightOperandCache(ComputePool pool) : IDisposable
{
    private sealed class Entry
    {
        public float* Buffer;
        public bool Fresh;
    }

    private readonly Dictionary<(nint Weight, int Rows, int Cols, GemmPrecision Precision), Entry> _entries = [];

    /// <summary>The rounded [rows, cols] copy of <paramref name="weight"/> (the weight itself for F32).</summary>
    public float* Get(float* weight, int rows, int cols, GemmPrecision precision)
    {
        if (precision == GemmPrecision.F32) return weight;
        var key = ((nint)weight, rows, cols, precision);
        lock (_entries)
        {
            if (!_entries.TryGetValue(key, out var e))
            {
                e = new Entry { Buffer = (float*)NativeMemory.AlignedAlloc((nuint)((long)rows * cols * sizeof(float)), 64) };
                _entries[key] = e;
            }
            if (!e.Fresh)
            {
                if (precision == GemmPrecision.BF16) GemmOperandRounding.RoundToBf16(weight, rows, cols, e.Buffer, pool);
                else GemmOperandRounding.QuantizeE4M3(weight, rows, cols, GemmOperandRounding.Tile, GemmOperandRounding.Tile, e.Buffer, pool);
                e.Fresh = true;
            }
            return e.Buffer;
        }
    }

    /// <summary>Marks every copy stale (the weights were updated).</summary>
    public void Invalidate()
    {
        lock (_entries)
            foreach (var e in _entries.Values) e.Fresh = false;
    }

    public void Dispose()
    {
        lock (_entries)
        {
            foreach (var e in _entries.Values) NativeMemory.AlignedFree(e.Buffer);
            _entries.Clear();
        }
    }
}
