using System.Buffers.Binary;
using System.Text.Json;
using SharpSeek.Formats.Safetensors;
using SharpSeek.Tensors;

namespace SharpSeek.Formats.Tests;

public sealed class SafetensorsRoundTripTests : IDisposable
{
    private readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    public static TheoryData<DType, int[]> DTypesAndShapes => new()
    {
        { DType.F32, new[] { 3, 5 } },
        { DType.F16, new[] { 7 } },
        { DType.BF16, new[] { 2, 3, 4 } },
        { DType.F8E4M3, new[] { 130, 3 } },
        { DType.I32, new[] { 1, 2, 3, 4, 1 } },
        { DType.F32, new[] { 4, 0 } },
        { DType.BF16, Array.Empty<int>() },
    };

    [Theory]
    [MemberData(nameof(DTypesAndShapes))]
    public void Tensors_of_every_dtype_round_trip_bit_exactly(DType dtype, int[] shape)
    {
        using var t = TestTensors.Random(dtype, seed: 17 + (int)dtype, shape);
        using var other = TestTensors.Random(DType.F32, 3, 3);
        string path = _dir.File("t.safetensors");
        new SafetensorsWriter().AddTensor("other", other).AddTensor("w", t).Write(path);

        foreach (var mode in new[] { FileLoadMode.MemoryMapped, FileLoadMode.ReadIntoMemory })
        {
            using var file = SafetensorsFile.Open(path, mode);
            Assert.Equal(new[] { "other", "w" }, file.TensorNames);
            var info = file.GetTensorInfo("w");
            Assert.Equal(SafetensorsDTypes.FromDType(dtype), info.DTypeName);
            Assert.Equal(dtype, info.DType);
            Assert.Equal(shape, info.Shape);
            var view = file.GetTensor("w");
            Assert.Equal(dtype, view.DType);
            Assert.Equal(shape, view.Shape);
            Assert.Same(file.Contents, view.KeepAlive);
            Assert.Equal(TestTensors.Bytes(t), TestTensors.Bytes(view));
            Assert.Equal(TestTensors.Bytes(other), TestTensors.Bytes(file.GetTensor("other")));
        }
    }

    [Fact]
    public void Header_is_standard_json_with_exact_offsets_and_padded_data_start()
    {
        using var a = Tensor.FromArray([1f, 2f, 3f], 3);
        using var b = TestTensors.Random(DType.BF16, 1, 2, 2);
        string path = _dir.File("h.safetensors");
        var writer = new SafetensorsWriter().AddTensor("a", a).AddTensor("b", b);
        writer.Metadata["format"] = "pt";
        writer.Metadata["note"] = "ünïcode";
        writer.Write(path);

        byte[] bytes = File.ReadAllBytes(path);
        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, (8 + n) % SafetensorsWriter.DataAlignment);
        Assert.Equal(8 + n + 12 + 8, bytes.Length);
        using var doc = JsonDocument.Parse(bytes.AsMemory(8, (int)n));
        var root = doc.RootElement;
        Assert.Equal("pt", root.GetProperty("__metadata__").GetProperty("format").GetString());
        Assert.Equal("ünïcode", root.GetProperty("__metadata__").GetProperty("note").GetString());
        Assert.Equal("F32", root.GetProperty("a").GetProperty("dtype").GetString());
        Assert.Equal(new[] { 3 }, root.GetProperty("a").GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(new long[] { 0, 12 }, root.GetProperty("a").GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal("BF16", root.GetProperty("b").GetProperty("dtype").GetString());
        Assert.Equal(new long[] { 12, 20 }, root.GetProperty("b").GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal(new byte[] { 0, 0, 0x80, 0x3F }, bytes.AsSpan((int)(8 + n), 4).ToArray());

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(2, file.Metadata.Count);
        Assert.Equal("ünïcode", file.Metadata["note"]);
        Assert.Equal(8 + n, file.DataOffset);
    }

    [Fact]
    public void Writer_rejects_block_formats_reserved_and_duplicate_names()
    {
        using var q = Tensor.Allocate(DType.Q8_0, 32);
        Assert.Contains("Q8_0 has no safetensors dtype", Assert.Throws<ArgumentException>(() => new SafetensorsWriter().AddTensor("q", q)).Message);
        using var t = Tensor.Allocate(DType.F32, 1);
        Assert.Throws<ArgumentException>(() => new SafetensorsWriter().AddTensor("__metadata__", t));
        Assert.Throws<ArgumentException>(() => new SafetensorsWriter().AddTensor("x", t).AddTensor("x", t));
    }

    private static (string Name, Tensor Tensor)[] SomeTensors() =>
    [
        ("model.embed_tokens.weight", TestTensors.Random(DType.BF16, 1, 10, 8)),   // 160 bytes
        ("model.layers.0.mlp.down_proj.weight", TestTensors.Random(DType.F8E4M3, 2, 12, 10)), // 120
        ("model.layers.0.mlp.down_proj.weight_scale_inv", TestTensors.Random(DType.F32, 3, 1, 1)), // 4
        ("model.norm.weight", TestTensors.Random(DType.F32, 4, 8)),                // 32
        ("lm_head.weight", TestTensors.Random(DType.BF16, 5, 10, 30)),             // 600: bigger than a shard
    ];

    [Fact]
    public void Sharded_write_splits_by_size_writes_an_index_and_reads_back_through_it()
    {
        var tensors = SomeTensors();
        try
        {
            var writer = new SafetensorsWriter();
            writer.Metadata["format"] = "pt";
            foreach (var (n, t) in tensors) writer.AddTensor(n, t);
            var shards = writer.WriteSharded(_dir.Path, maxShardBytes: 300);

            // 160+120+4 fit in 300; +32 would exceed -> new shard; the 600-byte tensor is over the limit and gets its own shard.
            Assert.Equal(new[] { "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors" },
                shards.Select(Path.GetFileName));
            string indexPath = _dir.File(SafetensorsDirectory.IndexFileName);
            using (var index = JsonDocument.Parse(File.ReadAllBytes(indexPath)))
            {
                Assert.Equal(160 + 120 + 4 + 32 + 600, index.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64());
                var map = index.RootElement.GetProperty("weight_map").EnumerateObject().ToList();
                Assert.Equal(map.Select(p => p.Name).Order(StringComparer.Ordinal), map.Select(p => p.Name));
                Assert.Equal("model-00002-of-00003.safetensors", map.Single(p => p.Name == "model.norm.weight").Value.GetString());
            }

            foreach (string openPath in new[] { _dir.Path, indexPath })
            {
                using var model = SafetensorsDirectory.Open(openPath);
                Assert.Equal(indexPath, model.IndexPath);
                Assert.Equal(3, model.Shards.Count);
                Assert.Equal(916, model.IndexTotalSize);
                Assert.Equal(tensors.Select(t => t.Name).Order(StringComparer.Ordinal), model.TensorNames);
                Assert.Equal(shards[2], model.FileOf("lm_head.weight"));
                Assert.Equal(shards[0], model.FileOf("model.embed_tokens.weight"));
                foreach (var (n, t) in tensors)
                {
                    Assert.True(model.ContainsTensor(n));
                    Assert.Equal(TestTensors.Bytes(t), TestTensors.Bytes(model.GetTensor(n)));
                }
                Assert.All(model.Shards, s => Assert.Equal("pt", s.Metadata["format"]));
                var e = Assert.Throws<InvalidModelFileException>(() => model.GetTensor("nope"));
                Assert.Contains("no tensor named 'nope'", e.Message);
            }
        }
        finally
        {
            foreach (var (_, t) in tensors) t.Dispose();
        }
    }

    [Fact]
    public void Directory_without_index_and_single_file_paths_open_too()
    {
        using var a = TestTensors.Random(DType.F32, 1, 4);
        using var b = TestTensors.Random(DType.I32, 2, 4);
        new SafetensorsWriter().AddTensor("a", a).Write(_dir.File("part1.safetensors"));
        new SafetensorsWriter().AddTensor("b", b).Write(_dir.File("part2.safetensors"));

        using (var model = SafetensorsDirectory.Open(_dir.Path))
        {
            Assert.Null(model.IndexPath);
            Assert.Equal(new[] { "a", "b" }, model.TensorNames);
            Assert.Equal(TestTensors.Bytes(b), TestTensors.Bytes(model.GetTensor("b")));
        }
        using (var single = SafetensorsDirectory.Open(_dir.File("part2.safetensors")))
        {
            Assert.Equal(new[] { "b" }, single.TensorNames);
        }

        new SafetensorsWriter().AddTensor("a", b).Write(_dir.File("part3.safetensors"));
        var e = Assert.Throws<InvalidModelFileException>(() => SafetensorsDirectory.Open(_dir.Path));
        Assert.Contains("tensor 'a' is also in", e.Message);
    }

    [Fact]
    public void Factory_tensors_are_produced_during_the_write_in_order()
    {
        var order = new List<string>();
        var writer = new SafetensorsWriter();
        foreach (var n in new[] { "x", "y" })
            writer.AddTensor(n, DType.F32, [2], () => { order.Add(n); return Tensor.FromArray([n[0], 1f], 2); });
        Assert.Empty(order);
        string path = _dir.File("lazy.safetensors");
        writer.Write(path);
        Assert.Equal(new[] { "x", "y" }, order);
        using var file = SafetensorsFile.Open(path);
        Assert.Equal(new float[] { 'y', 1 }, file.GetTensor("y").AsSpan<float>().ToArray());
    }

    [Fact]
    public void Empty_writer_produces_a_valid_empty_file()
    {
        string path = _dir.File("empty.safetensors");
        new SafetensorsWriter().Write(path);
        using var file = SafetensorsFile.Open(path);
        Assert.Empty(file.TensorNames);
        Assert.Empty(file.Metadata);
    }
}
