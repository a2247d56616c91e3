using System.Buffers.Binary;
using SharpSeek.Formats;

namespace SharpSeek.Training.Data;

/// <summary>
/// A binary shard of token ids: a 32-byte header (magic <c>SSTOKENS</c>, u32 version 1, u32 bytes per token (2 or 4),
/// u64 token count, u32 vocabulary size, u32 document count) followed by the ids, little-endian. Documents are
/// stored back to back, each preceded by the tokenizer's separator id. Read through a memory mapping.
/// </summary>
public sealed unsafe class TokenShard : IDisposable
{
    public const int HeaderBytes = 32;
    private static ReadOnlySpan<byte> Magic => "SSTOKENS"u8;

    private readonly FileContents _contents;

    private TokenShard(string path, FileContents contents, int bytesPerToken, long count, int vocabulary, int documents)
    {
        Path = path;
        _contents = contents;
        BytesPerToken = bytesPerToken;
        TokenCount = count;
        VocabularySize = vocabulary;
        DocumentCount = documents;
    }

    public string Path { get; }
    public int BytesPerToken { get; }
    public long TokenCount { get; }
    public int VocabularySize { get; }
    public int DocumentCount { get; }

    public static TokenShard Open(string path)
    {
        var contents = FileContents.Open(path);
        try
        {
            if (contents.Length < HeaderBytes) throw new InvalidDataException($"{path}: {contents.Length} bytes is too short for a token shard header");
            var h = contents.Slice(0, HeaderBytes);
            if (!h[..8].SequenceEqual(Magic)) throw new InvalidDataException($"{path}: not a token shard (bad magic)");
            uint version = BinaryPrimitives.ReadUInt32LittleEndian(h[8..]);
            if (version != 1) throw new InvalidDataException($"{path}: token shard version {version} is not supported");
            int width = (int)BinaryPrimitives.ReadUInt32LittleEndian(h[12..]);
            if (width is not (2 or 4)) throw new InvalidDataException($"{path}: {width} bytes per token (expected 2 or 4)");
            long count = (long)BinaryPrimitives.ReadUInt64LittleEndian(h[16..]);
            int vocab = (int)BinaryPrimitives.ReadUInt32LittleEndian(h[24..]);
            int docs = (int)BinaryPrimitives.ReadUInt32LittleEndian(h[28..]);
            if (count < 0 || HeaderBytes + count * width != contents.Length)
                throw new InvalidDataException($"{path}: header says {count} tokens of {width} bytes but the file holds {contents.Length - HeaderBytes} bytes of data");
            return new TokenShard(path, contents, width, count, vocab, docs);
        }
        catch
        {
            contents.Dispose();
            throw;
        }
    }

    /// <summary>Copies tokens [start, start + dst.Length) into <paramref name="dst"/>.</summary>
    public void Read(long start, Span<int> dst)
    {
        if (start < 0 || start + dst.Length > TokenCount) throw new ArgumentOutOfRangeException(nameof(start), $"tokens [{start}, {start + dst.Length}) are outside {Path} ({TokenCount})");
        byte* p = _contents.Pointer + HeaderBytes + start * BytesPerToken;
        if (BytesPerToken == 2)
            for (int i = 0; i < dst.Length; i++) dst[i] = BinaryPrimitives.ReadUInt16LittleEndian(new ReadOnlySpan<byte>(p + 2 * i, 2));
        else
            for (int i = 0; i < dst.Length; i++) dst[i] = BinaryPrimitives.ReadInt32LittleEndian(new ReadOnlySpan<byte>(p + 4 * i, 4));
    }

    /// <summary>
    /// Tokenizes <paramref name="documents"/> into shards of at most <paramref name="tokensPerShard"/> tokens
    /// (<c>{prefix}_000000.tokens</c>, …), each streamed by a <see cref="TokenShardWriter"/> (constant memory, renamed
    /// into place when complete).
    /// </summary>
    public static IReadOnlyList<string> Write(IEnumerable<string> documents, ITextTokenizer tokenizer, string directory, string prefix, long tokensPerShard = 1 << 26)
    {
        Directory.CreateDirectory(directory);
        var paths = new List<string>();
        TokenShardWriter? shard = null;
        string? path = null;
        try
        {
            foreach (string doc in documents)
            {
                var ids = tokenizer.Encode(doc);
                foreach (int id in ids)
                    if ((uint)id >= (uint)tokenizer.VocabularySize) throw new InvalidDataException($"tokenizer produced id {id} outside its vocabulary of {tokenizer.VocabularySize}");
                if (shard is not null && shard.TokenCount + ids.Length + 1 > tokensPerShard)
                {
                    shard.Commit();
                    shard.Dispose();
                    paths.Add(path!);
                    shard = null;
                }
                if (shard is null)
                {
                    path = System.IO.Path.Combine(directory, $"{prefix}_{paths.Count:D6}.tokens");
                    shard = new TokenShardWriter(path, tokenizer.VocabularySize);
                }
                shard.AddDocument(tokenizer.DocumentSeparator, ids);
            }
            if (shard is not null)
            {
                shard.Commit();
                paths.Add(path!);
            }
        }
        finally { shard?.Dispose(); }
        return paths;
    }

    /// <summary>The 32-byte header of a shard of <paramref name="count"/> tokens (also used by <see cref="TokenShardWriter"/>).</summary>
    internal static void WriteHeader(Span<byte> h, int width, long count, int vocabulary, int documents)
    {
        Magic.CopyTo(h);
        BinaryPrimitives.WriteUInt32LittleEndian(h[8..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(h[12..], (uint)width);
        BinaryPrimitives.WriteUInt64LittleEndian(h[16..], (ulong)count);
        BinaryPrimitives.WriteUInt32LittleEndian(h[24..], (uint)vocabulary);
        BinaryPrimitives.WriteUInt32LittleEndian(h[28..], (uint)documents);
    }

    /// <summary>Bytes per token for a vocabulary: 2 when every id fits 16 bits, else 4.</summary>
    internal static int WidthFor(int vocabulary) => vocabulary <= 65536 ? 2 : 4;

    public void Dispose() => _contents.Dispose();
}
