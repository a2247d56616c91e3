using SharpSeek.Tensors;
using SharpSeek.Tensors.Kernels;

namespace SharpSeek.Model;

/// <summary>
/// The key/value cache memory of every sequence of one model, in fixed pages of <see cref="PageTokens"/> positions
/// (the context cache's block, so a cached block is exactly one page). A page holds those positions' rows for every
/// cache layer — the main blocks, then the MTP blocks when <see cref="HasMtpLayers"/> — laid out per layer as
/// [64 key rows | 64 value rows] in <see cref="Type"/> (F16 by default: half of f32's bytes, what llama.cpp keeps).
/// </summary>
/// <remarks>
/// Pages are reference-counted: a sequence owns the pages of its page table (<see cref="SequenceKv"/>), and a page
/// holding a shared prompt prefix is owned by every sequence that adopted it and by the prefix index that found it, so
/// an in-memory prefix hit costs no copy. A page with more than one owner is read-only; a sequence that must write
/// into one copies it first. The memory is one native block reserved up front (the OS commits it as pages are first
/// written). Not thread-safe: one scheduler thread drives a pool.
/// </remarks>
public sealed unsafe class KvPagePool : IDisposable
{
    public const int PageTokens = 64;

    private readonly NativeBuffer _memory;
    private readonly int[] _owners;
    private readonly int[] _free;
    private int _freeCount;
    private readonly long _layerBytes, _valueOffset;

    /// <param name="memoryBytes">Bytes of pages to reserve (whole pages; at least one).</param>
    /// <param name="type">Element type of the cached rows: F16 (default), BF16 or F32.</param>
    /// <param name="includeMtp">Also cache the MTP blocks' rows (needed to run the MTP head over a sequence).</param>
    public KvPagePool(LanguageModel model, long memoryBytes, DType type = DType.F16, bool includeMtp = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (type is not (DType.F32 or DType.F16 or DType.BF16))
            throw new ArgumentException($"the KV cache stores F32, F16 or BF16 rows, not {type}", nameof(type));
        Model = model;
        Type = type;
        MainLayers = model.Config.NumHiddenLayers;
        HasMtpLayers = includeMtp && model.MtpDepth > 0;
        Layers = MainLayers + (HasMtpLayers ? model.MtpDepth : 0);
        (KeyRowElements, ValueRowElements) = model.CacheRowWidths;
        int element = type == DType.F32 ? 4 : 2;
        _valueOffset = (long)PageTokens * KeyRowElements * element;
        _layerBytes = (long)PageTokens * (KeyRowElements + ValueRowElements) * element;
        PageBytes = (_layerBytes * Layers + 63) & ~63L;
        long pages = memoryBytes / PageBytes;
        if (memoryBytes <= 0 || pages < 1)
            throw new ArgumentOutOfRangeException(nameof(memoryBytes), memoryBytes,
                $"KV memory of {memoryBytes:N0} bytes holds no page: one {PageTokens}-token page of this model takes {PageBytes:N0} bytes ({type})");
        if (pages > int.MaxValue / 2) throw new ArgumentOutOfRangeException(nameof(memoryBytes), memoryBytes, "KV memory is too large");
        PageCount = (int)pages;
        // No zeroing: a row is always written before any query reads it, and untouched pages are never committed.
        _memory = new NativeBuffer(PageCount * PageBytes, zero: false);
        _owners = new int[PageCount];
        _free = new int[PageCount];
        for (int i = 0; i < PageCount; i++) _free[i] = PageCount - 1 - i; // page 0 is rented first
        _freeCount = PageCount;
    }

    /// <summary>Bytes of one page for <paramref name="model"/> (what <c>--kv-memory</c> is divided into).</summary>
    public static long PageBytesFor(LanguageModel model, DType type = DType.F16, bool includeMtp = false)
    {
        var (k, v) = model.CacheRowWidths;
        int layers = model.Config.NumHiddenLayers + (includeMtp ? model.MtpDepth : 0);
        return ((long)PageTokens * (k + v) * (type == DType.F32 ? 4 : 2) * layers + 63) & ~63L;
    }

    public LanguageModel Model { get; }
    public DType Type { get; }
    public int MainLayers { get; }
    /// <summary>Cache layers per page: the main blocks, then (when <see cref="HasMtpLayers"/>) one per MTP depth.</summary>
    public int Layers { get; }
    public bool HasMtpLayers { get; }
    public int KeyRowElements { get; }
    public int ValueRowElements { get; }
    public long PageBytes { get; }
    public int PageCount { get; }
    public int FreePages => _freeCount;
    public int UsedPages => PageCount - _freeCount;

    /// <summary>Cache bytes one position takes over the main layers (the figure to compare with other engines).</summary>
    public long BytesPerToken => (long)(KeyRowElements + ValueRowElements) * (Type == DType.F32 ? 4 : 2) * MainLayers;

    /// <summary>
    /// Called when a page is wanted and none is free; returns how many pages it freed (a prefix index drops pages only
    /// it still holds). Null: renting simply fails.
    /// </summary>
    public Func<int>? Reclaim { get; set; }

    /// <summary>A free page with one owner (the caller), or −1 when none is left even after <see cref="Reclaim"/>.</summary>
    public int TryRent()
    {
        if (_freeCount == 0 && (Reclaim?.Invoke() ?? 0) <= 0) return -1;
        if (_freeCount == 0) return -1;
        int page = _free[--_freeCount];
        _owners[page] = 1;
        return page;
    }

    /// <summary>Adds an owner to a rented page.</summary>
    public void Retain(int page)
    {
        CheckRented(page);
        _owners[page]++;
    }

    /// <summary>Drops one owner; the page returns to the free list with its last owner.</summary>
    public void Release(int page)
    {
        CheckRented(page);
        if (--_owners[page] == 0) _free[_freeCount++] = page;
    }

    /// <summary>How many owners <paramref name="page"/> has (0 = free).</summary>
    public int Owners(int page)
    {
        if ((uint)page >= (uint)PageCount) throw new ArgumentOutOfRangeException(nameof(page), page, $"page id outside [0, {PageCount})");
        return _owners[page];
    }

    /// <summary>The raw bytes of a page (every layer's rows), for copying pages in and out of the context cache.</summary>
    public Span<byte> Bytes(int page)
    {
        CheckRented(page);
        return new Span<byte>(_memory.Pointer + page * PageBytes, checked((int)PageBytes));
    }

    /// <summary>Layer <paramref name="layer"/> of every page, as the attention kernel reads it.</summary>
    public KvPageView View(int layer)
    {
        if ((uint)layer >= (uint)Layers) throw new ArgumentOutOfRangeException(nameof(layer), layer, $"the pool caches {Layers} layers");
        long keys = layer * _layerBytes;
        // Absorbed MLA keeps no value rows: the value is the latent at the start of each key row.
        return ValueRowElements == 0
            ? new KvPageView(_memory.Pointer, PageBytes, PageTokens, Type, keys, KeyRowElements, keys, KeyRowElements)
            : new KvPageView(_memory.Pointer, PageBytes, PageTokens, Type, keys, KeyRowElements, keys + _valueOffset, ValueRowElements);
    }

    private void CheckRented(int page)
    {
        if ((uint)page >= (uint)PageCount) throw new ArgumentOutOfRangeException(nameof(page), page, $"page id outside [0, {PageCount})");
        if (_owners[page] <= 0) throw new InvalidOperationException($"page {page} is not rented");
    }

    public void Dispose() => _memory.Dispose();
}
