using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using SharpSeek.Checkpoints;

namespace SharpSeek.Inference;

/// <summary>
/// A short hash that changes whenever a checkpoint's weights or config change. It roots the context-cache keys, so KV
/// blocks computed by other weights are never reused, while the same files still hit after a restart.
/// </summary>
public static class ModelFingerprint
{
    /// <summary>
    /// Up to this many bytes of model files are hashed by content (about a tenth of a second); past it only names,
    /// sizes and modification times are, because reading hundreds of gigabytes at every start is not acceptable.
    /// </summary>
    public const long ContentHashLimit = 256L << 20;

    /// <summary>16 hex digits over the files that make up <paramref name="checkpoint"/> and a fingerprint of the tokenizer.</summary>
    public static string Of(Checkpoint checkpoint, string tokenizerFingerprint)
    {
        var files = ModelFiles(checkpoint);
        long total = files.Sum(f => f.Length);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Append(hash, "sharpseek-model-v1");
        bool byContent = total <= ContentHashLimit;
        foreach (var file in files)
        {
            Append(hash, file.Name);
            Append(hash, file.Length.ToString(CultureInfo.InvariantCulture));
            if (byContent)
            {
                using var stream = file.OpenRead();
                var buffer = new byte[1 << 20];
                int read;
                while ((read = stream.Read(buffer)) > 0) hash.AppendData(buffer, 0, read);
            }
            else Append(hash, file.LastWriteTimeUtc.Ticks.ToString(CultureInfo.InvariantCulture));
        }
        Append(hash, tokenizerFingerprint);
        return Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
    }

    /// <summary>The files a checkpoint is read from, in a stable order: a GGUF file, or an HF folder's config and weights.</summary>
    public static IReadOnlyList<FileInfo> ModelFiles(Checkpoint checkpoint)
    {
        if (checkpoint.Format == CheckpointFormat.Gguf) return [new FileInfo(checkpoint.Path)];
        var dir = new DirectoryInfo(checkpoint.Path);
        return dir.EnumerateFiles("*.safetensors")
            .Concat(dir.EnumerateFiles("*.json").Where(f => f.Name is "config.json" || f.Name.EndsWith(".index.json", StringComparison.Ordinal)))
            .OrderBy(f => f.Name, StringComparer.Ordinal)
            .ToList();
    }

    private static void Append(IncrementalHash hash, string text)
    {
        hash.AppendData(Encoding.UTF8.GetBytes(text));
        hash.AppendData([0]);
    }
}
