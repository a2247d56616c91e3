using System.IO.MemoryMappedFiles;
using SharpSeek.Tensors;

namespace SharpSeek.Formats;

/// <summary>How a model file's bytes are brought into the process.</summary>
public enum FileLoadMode
{
    /// <summary>Map the file read-only; pages are read on first touch and never copied to the managed heap. The default for weights.</summary>
    MemoryMapped,
    /// <summary>Read the whole file into native memory up front. Useful for small files or when the file may change underneath.</summary>
    ReadIntoMemory,
}

/// <summary>
/// The bytes of one file, addressable by pointer for as long as this object is alive and not disposed.
/// Tensor views over a file use this object as their <see cref="Tensor.KeepAlive"/>, so the file stays mapped while
/// any view is reachable; disposing it explicitly releases the memory at once and makes every view over it invalid.
/// </summary>
public abstract unsafe class FileContents : IDisposable
{
    public string Path { get; }
    public long Length { get; }

    protected FileContents(string path, long length)
    {
        Path = path;
        Length = length;
    }

    /// <summary>First byte of the file (null for an empty file).</summary>
    public abstract byte* Pointer { get; }

    /// <summary>
    /// Opens <paramref name="path"/> and hands the contents to <paramref name="parse"/>, whose result owns them on
    /// success; when parsing throws, the contents (a mapping or a buffer) are released before the exception leaves.
    /// </summary>
    public static T OpenAndParse<T>(string path, FileLoadMode mode, Func<FileContents, T> parse)
    {
        var contents = Open(path, mode);
        try
        {
            return parse(contents);
        }
        catch
        {
            contents.Dispose();
            throw;
        }
    }

    public static FileContents Open(string path, FileLoadMode mode = FileLoadMode.MemoryMapped) => mode switch
    {
        FileLoadMode.MemoryMapped => new MappedFile(path),
        FileLoadMode.ReadIntoMemory => new LoadedFile(path),
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "unknown file load mode"),
    };

    /// <summary>Bytes <c>[offset, offset+length)</c>; throws if the range is outside the file.</summary>
    public ReadOnlySpan<byte> Slice(long offset, int length)
    {
        if (offset < 0 || length < 0 || offset > Length || length > Length - offset)
            throw new ArgumentOutOfRangeException(nameof(offset), $"range [{offset}, {offset + length}) is outside {Path} ({Length} bytes)");
        return length == 0 ? ReadOnlySpan<byte>.Empty : new ReadOnlySpan<byte>(Pointer + offset, length);
    }

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected abstract void Dispose(bool disposing);
}

/// <summary>A read-only memory mapping of a whole file (one mapping per file).</summary>
/// <remarks>
/// Views are read-only: writing through a tensor that points into the mapping faults. Truncating the file on disk
/// while it is mapped makes touching the lost pages fault too (SIGBUS); the readers cannot guard against that.
/// </remarks>
public sealed unsafe class MappedFile : FileContents
{
    private MemoryMappedFile? _map;
    private MemoryMappedViewAccessor? _view;
    private byte* _pointer;
    private bool _pointerAcquired;

    public MappedFile(string path) : this(path, OpenForMapping(path)) { }

    private MappedFile(string path, FileStream stream) : base(path, stream.Length)
    {
        if (Length == 0)
        {
            // An empty file cannot be mapped; it has no bytes to point at, and the readers report it as truncated.
            stream.Dispose();
            return;
        }
        try
        {
            _map = MemoryMappedFile.CreateFromFile(stream, mapName: null, capacity: 0, MemoryMappedFileAccess.Read,
                HandleInheritability.None, leaveOpen: false);
            _view = _map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* p = null;
            _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            _pointerAcquired = true;
            _pointer = p + _view.PointerOffset;
        }
        catch
        {
            Dispose(true);
            stream.Dispose();
            throw;
        }
    }

    private static FileStream OpenForMapping(string path)
        // FileShare.Delete lets a writer atomically replace the file by rename while a reader still has it mapped.
        => new(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, bufferSize: 1, FileOptions.RandomAccess);

    public override byte* Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(Length > 0 && _pointer == null, this);
            return _pointer;
        }
    }

    protected override void Dispose(bool disposing)
    {
        // The view handle is a SafeHandle: it would not unmap while our AcquirePointer reference is outstanding,
        // so the finalizer path must release that reference too or an abandoned mapping would leak forever.
        if (_pointerAcquired && _view != null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _pointerAcquired = false;
        }
        _pointer = null;
        if (disposing)
        {
            _view?.Dispose();
            _map?.Dispose();
        }
        _view = null;
        _map = null;
    }

    ~MappedFile() => Dispose(false);
}

/// <summary>A whole file read into one 64-byte-aligned native buffer.</summary>
public sealed unsafe class LoadedFile : FileContents
{
    private NativeBuffer? _buffer;

    public LoadedFile(string path) : this(path, new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan)) { }

    private LoadedFile(string path, FileStream stream) : base(path, stream.Length)
    {
        using (stream)
        {
            _buffer = new NativeBuffer(Length, zero: false);
            try
            {
                long done = 0;
                while (done < Length)
                {
                    int chunk = (int)Math.Min(Length - done, 1 << 30);
                    int n = stream.Read(new Span<byte>(_buffer.Pointer + done, chunk));
                    if (n == 0) throw new IOException($"{path} shrank while being read: got {done} of {Length} bytes");
                    done += n;
                }
            }
            catch
            {
                _buffer.Dispose();
                _buffer = null;
                throw;
            }
        }
    }

    public override byte* Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_buffer == null, this);
            return _buffer.Pointer;
        }
    }

    protected override void Dispose(bool disposing)
    {
        // NativeBuffer has its own finalizer, so only the explicit path needs to free it.
        if (disposing) _buffer?.Dispose();
        _buffer = null;
    }
}
