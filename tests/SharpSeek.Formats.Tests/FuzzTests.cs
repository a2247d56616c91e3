using SharpSeek.Formats.Gguf;
using SharpSeek.Formats.Safetensors;
using SharpSeek.Tensors;

namespace SharpSeek.Formats.Tests;

/// <summary>
/// Corrupts small valid files written by our own writers in many seeded ways and loads each result fully: every
/// load must either succeed or throw <see cref="InvalidModelFileException"/> — no other exception type, no crash
/// (a view outside the file would fault when its bytes are summed below).
/// </summary>
public sealed class FuzzTests : IDisposable
{
    private const int Iterations = 2500;
    private readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    private static readonly ulong[] InterestingValues =
    [
        0, 1, 2, 3, 4, 7, 8, 9, 12, 13, 31, 32, 33, 63, 64, 255, 256, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
        1UL << 32, 1UL << 40, 1UL << 50, 1UL << 60, long.MaxValue, 1UL << 63, ulong.MaxValue, ulong.MaxValue - 31,
    ];

    private static byte[] Mutate(byte[] original, Random rng, int hotEnd)
    {
        // Most corruption lands in the header, where parsing happens; data bytes are opaque to a container reader.
        int Pos(int length) => rng.Next(4) == 0 || hotEnd <= 0 ? rng.Next(length) : rng.Next(Math.Min(hotEnd, length));
        var bytes = (byte[])original.Clone();
        switch (rng.Next(6))
        {
            case 0:
                return bytes.AsSpan(0, rng.Next(bytes.Length)).ToArray();
            case 1:
                for (int i = rng.Next(1, 9); i > 0; i--) bytes[Pos(bytes.Length)] = (byte)rng.Next(256);
                return bytes;
            case 2:
            {
                int at = Pos(bytes.Length - 8);
                BitConverter.TryWriteBytes(bytes.AsSpan(at, 8), InterestingValues[rng.Next(InterestingValues.Length)]);
                return bytes;
            }
            case 3:
            {
                int at = Pos(bytes.Length - 4);
                BitConverter.TryWriteBytes(bytes.AsSpan(at, 4), (uint)InterestingValues[rng.Next(InterestingValues.Length)]);
                return bytes;
            }
            case 4:
            {
                int at = Pos(bytes.Length), n = rng.Next(1, 16);
                var inserted = new byte[n];
                rng.NextBytes(inserted);
                return [.. bytes.AsSpan(0, at), .. inserted, .. bytes.AsSpan(at)];
            }
            default:
            {
                int at = Pos(bytes.Length), n = Math.Min(rng.Next(1, 16), bytes.Length - at);
                return [.. bytes.AsSpan(0, at), .. bytes.AsSpan(at + n)];
            }
        }
    }

    private static unsafe long Touch(Tensor t)
    {
        long sum = 0;
        for (long i = 0; i < t.ByteLength; i++) sum += t.Data[i];
        return sum;
    }

    private static void LoadGgufFully(string path, FileLoadMode mode)
    {
        using var file = GgufFile.Open(path, mode);
        foreach (var (key, value) in file.Metadata)
        {
            _ = value.Describe();
            _ = value.ToString();
            _ = file.Metadata.Get(key);
        }
        foreach (var info in file.Tensors)
        {
            try
            {
                Touch(file.GetTensor(info.Name));
            }
            catch (InvalidModelFileException) { } // e.g. a type id corrupted into an unsupported one
        }
    }

    private static void LoadSafetensorsFully(string path, FileLoadMode mode)
    {
        using var file = SafetensorsFile.Open(path, mode);
        _ = file.Metadata.Count;
        foreach (var info in file.Tensors)
        {
            try
            {
                Touch(Fp8ScalePairing.GetWeight(file, info.Name));
            }
            catch (InvalidModelFileException) { }
        }
    }

    private void Fuzz(byte[] valid, int hotEnd, string extension, Action<string, FileLoadMode> load, int seed)
    {
        var rng = new Random(seed);
        var failures = new List<string>();
        int succeeded = 0, rejected = 0;
        string path = _dir.File("fuzz" + extension);
        for (int i = 0; i < Iterations; i++)
        {
            byte[] corrupt = Mutate(valid, rng, hotEnd);
            File.WriteAllBytes(path, corrupt);
            var mode = i % 2 == 0 ? FileLoadMode.MemoryMapped : FileLoadMode.ReadIntoMemory;
            try
            {
                load(path, mode);
                succeeded++;
            }
            catch (InvalidModelFileException e)
            {
                Assert.Equal(path, e.FilePath);
                rejected++;
            }
            catch (Exception e)
            {
                failures.Add($"iteration {i} ({mode}): {e.GetType().Name}: {e.Message}\n  bytes: {Convert.ToHexString(corrupt.AsSpan(0, Math.Min(corrupt.Length, 400)))}");
                if (failures.Count >= 5) break;
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        // Both outcomes must actually occur, or the mutations are not exercising the reader.
        Assert.True(rejected > Iterations / 10, $"only {rejected} of {Iterations} corruptions were rejected");
        Assert.True(succeeded > 0, "no corrupted file loaded at all");
    }

    [Fact]
    public void Corrupted_gguf_files_load_or_throw_InvalidModelFileException()
    {
        using var a = TestTensors.Random(DType.Q4_K, 1, 1, 256);
        using var b = TestTensors.Random(DType.F32, 2, 2, 3);
        using var c = TestTensors.Random(DType.Q8_0, 3, 2, 32);
        using var d = TestTensors.Random(DType.I32, 4, 5);
        string path = _dir.File("valid.gguf");
        new GgufWriter()
            .AddMetadata("general.architecture", "deepseek2")
            .AddMetadata("deepseek2.block_count", GgufValue.UInt32(3))
            .AddMetadata("f", 1.5f)
            .AddMetadata("flag", true)
            .AddMetadata("tokens", GgufArray.Of(new[] { "<s>", "a", "bc" }))
            .AddMetadata("scores", GgufArray.Of(new[] { 0f, -1f, -2f }))
            .AddMetadata("nested", GgufArray.Of(new[] { GgufArray.Of(new long[] { 1, 2 }), GgufArray.Of(new[] { "x" }) }))
            .AddTensor("blk.0.ffn_down.weight", a).AddTensor("norm", b).AddTensor("q", c).AddTensor("ids", d)
            .Write(path);
        byte[] valid = File.ReadAllBytes(path);
        long dataOffset;
        using (var f = GgufFile.Open(path)) dataOffset = f.DataOffset;
        Fuzz(valid, (int)dataOffset, ".gguf", LoadGgufFully, seed: 1234);
    }

    [Fact]
    public void Corrupted_safetensors_files_load_or_throw_InvalidModelFileException()
    {
        using var w = TestTensors.Random(DType.F8E4M3, 1, 130, 4);
        using var s = Tensor.FromArray([1f, 2f], 2, 1);
        using var n = TestTensors.Random(DType.BF16, 2, 4);
        using var i = TestTensors.Random(DType.I32, 3, 3);
        string path = _dir.File("valid.safetensors");
        var writer = new SafetensorsWriter().AddFp8Weight("l.weight", w.WithBlockScales(s)).AddTensor("n", n).AddTensor("i", i);
        writer.Metadata["format"] = "pt";
        writer.Write(path);
        byte[] valid = File.ReadAllBytes(path);
        long dataOffset;
        using (var f = SafetensorsFile.Open(path)) dataOffset = f.DataOffset;
        Fuzz(valid, (int)dataOffset, ".safetensors", LoadSafetensorsFully, seed: 5678);
    }
}
