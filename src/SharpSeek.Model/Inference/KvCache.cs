using SharpSeek.Tensors;

namespace SharpSeek.Model;

/// <summary>
/// Per-layer key/value rows for one sequence, F32, allocated once for <see cref="Capacity"/> positions in native memory.
/// Row p of layer l's key buffer holds what position p contributes to later queries:
/// absorbed MLA: [c (kv_lora_rank) | rotated k_pe (dr)] and no value buffer (the latent is the value);
/// naive MLA: keys [nh, dn + dr] and values [nh, dv]; GQA: keys and values [n_kv_heads, head_dim].
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly NativeBuffer[] _keys;
    private readonly NativeBuffer?[] _values;

    public int Layers => _keys.Length;
    public int Capacity { get; }
    /// <summary>Floats per position per layer in the key buffer.</summary>
    public int KeyRowWidth { get; }
    /// <summary>Floats per position per layer in the value buffer (0 when values live inside the key rows).</summary>
    public int ValueRowWidth { get; }

    /// <summary>Bytes one position takes over every layer of this cache.</summary>
    public long BytesPerToken => (long)(KeyRowWidth + ValueRowWidth) * sizeof(float) * Layers;
    /// <summary>Bytes held for <see cref="Capacity"/> positions.</summary>
    public long TotalBytes => BytesPerToken * Capacity;

    public KvCache(int layers, int capacity, int keyRowWidth, int valueRowWidth)
    {
        if (layers < 0 || capacity <= 0 || keyRowWidth <= 0 || valueRowWidth < 0)
            throw new ArgumentException($"KV cache needs capacity > 0 and a key row (got {layers} layers, {capacity} positions, rows {keyRowWidth}/{valueRowWidth})");
        if ((long)capacity * Math.Max(keyRowWidth, valueRowWidth) > int.MaxValue)
            throw new ArgumentException($"{capacity} positions of {Math.Max(keyRowWidth, valueRowWidth)} floats exceed one buffer per layer; lower the context");
        Capacity = capacity;
        KeyRowWidth = keyRowWidth;
        ValueRowWidth = valueRowWidth;
        _keys = new NativeBuffer[layers];
        _values = new NativeBuffer?[layers];
        for (int l = 0; l < layers; l++)
        {
            // No zeroing: a position is always written before any query can see it.
            _keys[l] = new NativeBuffer((long)capacity * keyRowWidth * sizeof(float), zero: false);
            _values[l] = valueRowWidth > 0 ? new NativeBuffer((long)capacity * valueRowWidth * sizeof(float), zero: false) : null;
        }
    }

    /// <summary>All key rows of <paramref name="layer"/> ([Capacity, KeyRowWidth]).</summary>
    public Span<float> Keys(int layer) => _keys[layer].AsSpan<float>()[..(Capacity * KeyRowWidth)];

    /// <summary>All value rows of <paramref name="layer"/>; the key rows when values live inside them.</summary>
    public Span<float> Values(int layer) => _values[layer] is { } v ? v.AsSpan<float>()[..(Capacity * ValueRowWidth)] : Keys(layer);

    public void Dispose()
    {
        foreach (var k in _keys) k.Dispose();
        foreach (var v in _values) v?.Dispose();
    }
}
