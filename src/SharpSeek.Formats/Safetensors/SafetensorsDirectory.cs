using System.Text.Json;
using SharpSeek.Tensors;

namespace SharpSeek.Formats.Safetensors;

/// <summary>
/// A model stored as one or more safetensors files, found by name across shards. Opens
/// <list type="bullet">
/// <item>a directory with <c>model.safetensors.index.json</c> (its <c>weight_map</c> says which shard holds each tensor),</item>
/// <item>an index file path directly,</item>
/// <item>a directory without an index (every <c>*.safetensors</c> in it; a name in two files is an error), or</item>
/// <item>a single <c>.safetensors</c> file.</item>
/// </list>
/// Every shard is opened and validated up front so a bad shard is reported before any weight is used.
/// </summary>
public sealed class SafetensorsDirectory : ITensorSource, IDisposable
{
    public const string IndexFileName = "model.safetensors.index.json";
    /// <summary>Index files are small (DeepSeek-V3's is ~9 MB); anything bigger is not an index.</summary>
    public const long MaxIndexBytes = 256L << 20;

    private readonly Dictionary<string, SafetensorsFile> _fileByTensor;
    private readonly string[] _names;

    /// <summary>The directory holding the shards.</summary>
    public string DirectoryPath { get; }
    /// <summary>The index file, when the model has one.</summary>
    public string? IndexPath { get; }
    /// <summary>The index's <c>metadata.total_size</c>, when present.</summary>
    public long? IndexTotalSize { get; }
    /// <summary>Shards in file-name order.</summary>
    public IReadOnlyList<SafetensorsFile> Shards { get; }
    public IReadOnlyList<string> TensorNames => _names;

    private SafetensorsDirectory(string dir, string? indexPath, long? totalSize, List<SafetensorsFile> shards, List<(string Name, SafetensorsFile File)> tensors)
    {
        DirectoryPath = dir;
        IndexPath = indexPath;
        IndexTotalSize = totalSize;
        Shards = shards;
        _names = tensors.Select(t => t.Name).ToArray();
        _fileByTensor = tensors.ToDictionary(t => t.Name, t => t.File, StringComparer.Ordinal);
    }

    public static SafetensorsDirectory Open(string path, FileLoadMode mode = FileLoadMode.MemoryMapped)
    {
        string full = System.IO.Path.GetFullPath(path);
        if (File.Exists(full))
        {
            if (full.EndsWith(".json", StringComparison.OrdinalIgnoreCase)) return OpenIndexed(full, mode);
            return OpenFiles(System.IO.Path.GetDirectoryName(full)!, [full], mode);
        }
        if (!Directory.Exists(full)) throw new FileNotFoundException($"no safetensors file or directory at '{full}'", full);
        string index = System.IO.Path.Combine(full, IndexFileName);
        if (File.Exists(index)) return OpenIndexed(index, mode);
        var files = Directory.GetFiles(full, "*.safetensors").Order(StringComparer.Ordinal).ToArray();
        if (files.Length == 0) throw new InvalidModelFileException(full, $"directory has neither {IndexFileName} nor any .safetensors file");
        return OpenFiles(full, files, mode);
    }

    private static SafetensorsDirectory OpenFiles(string dir, string[] files, FileLoadMode mode)
    {
        var shards = new List<SafetensorsFile>();
        try
        {
            var tensors = new List<(string, SafetensorsFile)>();
            var owner = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
            foreach (var f in files)
            {
                var shard = SafetensorsFile.Open(f, mode);
                shards.Add(shard);
                foreach (var name in shard.TensorNames)
                {
                    if (!owner.TryAdd(name, shard))
                        throw new InvalidModelFileException(f, $"tensor '{name}' is also in {owner[name].Path}; without an index the owner is ambiguous");
                    tensors.Add((name, shard));
                }
            }
            return new SafetensorsDirectory(dir, null, null, shards, tensors);
        }
        catch
        {
            foreach (var s in shards) s.Dispose();
            throw;
        }
    }

    private static SafetensorsDirectory OpenIndexed(string indexPath, FileLoadMode mode)
    {
        string dir = System.IO.Path.GetDirectoryName(indexPath)!;
        var (weightMap, totalSize) = ReadIndex(indexPath);

        var shards = new List<SafetensorsFile>();
        try
        {
            var byShardName = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
            foreach (var shardName in weightMap.Select(w => w.Shard).Distinct().Order(StringComparer.Ordinal))
            {
                string shardPath = System.IO.Path.Combine(dir, shardName);
                if (!File.Exists(shardPath))
                    throw new InvalidModelFileException(indexPath, $"shard '{shardName}' named in weight_map does not exist in {dir}");
                var shard = SafetensorsFile.Open(shardPath, mode);
                shards.Add(shard);
                byShardName.Add(shardName, shard);
            }
            var tensors = new List<(string, SafetensorsFile)>(weightMap.Count);
            foreach (var (name, shardName) in weightMap)
            {
                var shard = byShardName[shardName];
                if (!shard.ContainsTensor(name))
                    throw new InvalidModelFileException(indexPath, $"weight_map puts tensor '{name}' in '{shardName}', but that shard has no such tensor");
                tensors.Add((name, shard));
            }
            return new SafetensorsDirectory(dir, indexPath, totalSize, shards, tensors);
        }
        catch
        {
            foreach (var s in shards) s.Dispose();
            throw;
        }
    }

    private static (List<(string Name, string Shard)> WeightMap, long? TotalSize) ReadIndex(string indexPath)
    {
        InvalidModelFileException Error(string problem) => new(indexPath, problem);
        long length = new FileInfo(indexPath).Length;
        if (length > MaxIndexBytes) throw Error($"index is {length} bytes, over the {MaxIndexBytes}-byte limit for an index file");
        byte[] bytes = File.ReadAllBytes(indexPath);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw Error($"index is not valid JSON: {e.Message}");
        }
        using (doc)
        {
            try
            {
                var root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object) throw Error($"index is a JSON {root.ValueKind.ToString().ToLowerInvariant()}, expected an object");
                long? totalSize = null;
                if (root.TryGetProperty("metadata", out var meta) && meta.ValueKind == JsonValueKind.Object
                    && meta.TryGetProperty("total_size", out var ts) && ts.ValueKind == JsonValueKind.Number && ts.TryGetInt64(out long t))
                    totalSize = t;
                if (!root.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                    throw Error("index has no 'weight_map' object");
                var result = new List<(string, string)>();
                var seen = new HashSet<string>(StringComparer.Ordinal);
                foreach (var p in map.EnumerateObject())
                {
                    if (p.Value.ValueKind != JsonValueKind.String)
                        throw Error($"weight_map entry '{p.Name}' is a JSON {p.Value.ValueKind.ToString().ToLowerInvariant()}, expected a shard file name");
                    if (!seen.Add(p.Name)) throw Error($"weight_map lists '{p.Name}' twice");
                    string shard = p.Value.GetString()!;
                    CheckShardName(shard, p.Name, Error);
                    result.Add((p.Name, shard));
                }
                return (result, totalSize);
            }
            catch (InvalidOperationException e)
            {
                throw Error($"index contains invalid text: {e.Message}");
            }
        }
    }

    // A shard must be a plain file name beside the index: a hostile index must not reach files elsewhere ("../../x").
    private static void CheckShardName(string shard, string tensor, Func<string, InvalidModelFileException> error)
    {
        if (shard.Length == 0 || shard is "." or ".." || shard.IndexOfAny(['/', '\\', '\0']) >= 0 || System.IO.Path.IsPathRooted(shard))
            throw error($"weight_map entry '{tensor}' names shard '{shard}', which is not a plain file name in the index's directory");
    }

    public bool ContainsTensor(string name) => _fileByTensor.ContainsKey(name);

    /// <summary>The shard holding <paramref name="name"/>.</summary>
    public SafetensorsFile ShardOf(string name)
        => _fileByTensor.TryGetValue(name, out var f) ? f : throw new InvalidModelFileException(IndexPath ?? DirectoryPath, $"no tensor named '{name}'");

    public SafetensorsTensorInfo GetTensorInfo(string name) => ShardOf(name).GetTensorInfo(name);

    public Tensor GetTensor(string name) => ShardOf(name).GetTensor(name);

    public string FileOf(string name) => ShardOf(name).Path;

    public void Dispose()
    {
        foreach (var s in Shards) s.Dispose();
    }
}
