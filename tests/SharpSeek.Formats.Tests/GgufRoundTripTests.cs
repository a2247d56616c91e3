using SharpSeek.Formats.Gguf;
using SharpSeek.Tensors;

namespace SharpSeek.Formats.Tests;

public sealed class GgufRoundTripTests : IDisposable
{
    private readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    private static List<KeyValuePair<string, GgufValue>> EveryValueType() =>
    [
        new("u8", GgufValue.UInt8(250)),
        new("i8", GgufValue.Int8(-100)),
        new("u16", GgufValue.UInt16(65000)),
        new("i16", GgufValue.Int16(-32000)),
        new("u32", GgufValue.UInt32(4_000_000_000)),
        new("i32", GgufValue.Int32(-2_000_000_000)),
        new("f32", GgufValue.Float32(3.25f)),
        new("bool.true", GgufValue.Bool(true)),
        new("bool.false", GgufValue.Bool(false)),
        new("str", GgufValue.String("DeepSeek ｜begin▁of▁sentence｜ ✓")),
        new("str.empty", GgufValue.String("")),
        new("u64", GgufValue.UInt64(ulong.MaxValue - 5)),
        new("i64", GgufValue.Int64(long.MinValue + 7)),
        new("f64", GgufValue.Float64(-1e-300)),
        new("arr.u8", GgufValue.Array(GgufArray.Of(new byte[] { 0, 1, 255 }))),
        new("arr.i8", GgufValue.Array(GgufArray.Of(new sbyte[] { -128, 0, 127 }))),
        new("arr.u16", GgufValue.Array(GgufArray.Of(new ushort[] { 1, 65535 }))),
        new("arr.i16", GgufValue.Array(GgufArray.Of(new short[] { -1, 2 }))),
        new("arr.u32", GgufValue.Array(GgufArray.Of(new uint[] { 7, uint.MaxValue }))),
        new("arr.i32", GgufValue.Array(GgufArray.Of(new[] { -7, 8, 9 }))),
        new("arr.f32", GgufValue.Array(GgufArray.Of(new[] { 0.5f, float.NaN, float.NegativeInfinity }))),
        new("arr.bool", GgufValue.Array(GgufArray.Of(new[] { true, false, true }))),
        new("arr.str", GgufValue.Array(GgufArray.Of(new[] { "a", "", "<think>", "日本" }))),
        new("arr.u64", GgufValue.Array(GgufArray.Of(new ulong[] { ulong.MaxValue }))),
        new("arr.i64", GgufValue.Array(GgufArray.Of(new long[] { long.MinValue, 0 }))),
        new("arr.f64", GgufValue.Array(GgufArray.Of(new[] { Math.PI, -0.0 }))),
        new("arr.empty", GgufValue.Array(GgufArray.Of(Array.Empty<int>()))),
        new("arr.nested", GgufValue.Array(GgufArray.Of(new[]
        {
            GgufArray.Of(new[] { "x", "y" }),
            GgufArray.Of(new[] { GgufArray.Of(new uint[] { 1, 2, 3 }), GgufArray.Of(Array.Empty<bool>()) }),
            GgufArray.Of(new[] { 1.5 }),
        }))),
    ];

    [Fact]
    public void Metadata_of_every_type_round_trips_in_order()
    {
        var writer = new GgufWriter();
        var values = EveryValueType();
        writer.AddMetadata(values);
        string path = _dir.File("meta.gguf");
        writer.Write(path);

        using var file = GgufFile.Open(path);
        Assert.Equal(3u, file.Version);
        Assert.Equal(values.Select(v => v.Key), file.Metadata.Keys);
        foreach (var (key, expected) in values)
        {
            var actual = file.Metadata.Get(key);
            Assert.Equal(expected.Type, actual.Type);
            Assert.True(expected.Equals(actual), $"{key}: wrote {expected}, read {actual}");
        }
        Assert.Equal(250, file.Metadata.GetUInt8("u8"));
        Assert.Equal(-100, file.Metadata.GetInt8("i8"));
        Assert.Equal(65000, file.Metadata.GetUInt16("u16"));
        Assert.Equal(-32000, file.Metadata.GetInt16("i16"));
        Assert.Equal(4_000_000_000u, file.Metadata.GetUInt32("u32"));
        Assert.Equal(-2_000_000_000, file.Metadata.GetInt32("i32"));
        Assert.Equal(3.25f, file.Metadata.GetFloat32("f32"));
        Assert.True(file.Metadata.GetBool("bool.true"));
        Assert.False(file.Metadata.GetBool("bool.false"));
        Assert.Equal("DeepSeek ｜begin▁of▁sentence｜ ✓", file.Metadata.GetString("str"));
        Assert.Equal(ulong.MaxValue - 5, file.Metadata.GetUInt64("u64"));
        Assert.Equal(long.MinValue + 7, file.Metadata.GetInt64("i64"));
        Assert.Equal(-1e-300, file.Metadata.GetFloat64("f64"));
        Assert.Equal(new[] { "a", "", "<think>", "日本" }, file.Metadata.GetArray<string>("arr.str"));
        Assert.Equal(new[] { -7, 8, 9 }, file.Metadata.GetArray<int>("arr.i32"));
        var nested = file.Metadata.GetArray("arr.nested");
        Assert.Equal(GgufValueType.Array, nested.ElementType);
        Assert.Equal(new uint[] { 1, 2, 3 }, nested.As<GgufArray>()[1].As<GgufArray>()[0].As<uint>());
    }

    [Fact]
    public void Lenient_numeric_getters_widen_any_integer_or_float()
    {
        var writer = new GgufWriter()
            .AddMetadata("a", GgufValue.UInt8(7))
            .AddMetadata("b", GgufValue.Int32(-3))
            .AddMetadata("c", GgufValue.UInt64(1UL << 40))
            .AddMetadata("d", GgufValue.Float32(0.5f))
            .AddMetadata("s", "text");
        string path = _dir.File("lenient.gguf");
        writer.Write(path);
        using var file = GgufFile.Open(path);
        Assert.Equal(7, file.Metadata.GetInteger("a"));
        Assert.Equal(-3, file.Metadata.GetInteger("b"));
        Assert.Equal(1L << 40, file.Metadata.GetInteger("c"));
        Assert.Equal(0.5, file.Metadata.GetNumber("d"));
        Assert.Equal(-3.0, file.Metadata.GetNumber("b"));
        Assert.Equal(42, file.Metadata.GetInteger("missing", 42));
        Assert.Equal("fallback", file.Metadata.GetString("missing", "fallback"));
        var e = Assert.Throws<InvalidModelFileException>(() => file.Metadata.GetInteger("d"));
        Assert.Contains("'d' is Float32, expected an integer", e.Message);
        // A present key of the wrong type is still an error even with a fallback.
        Assert.Throws<InvalidModelFileException>(() => file.Metadata.GetInteger("s", 1));
    }

    [Fact]
    public void Metadata_getters_name_file_key_and_types_when_missing_or_mistyped()
    {
        string path = _dir.File("types.gguf");
        new GgufWriter().AddMetadata("deepseek2.block_count", GgufValue.UInt32(61)).AddMetadata("tok", GgufValue.Array(GgufArray.Of(new[] { 1, 2 }))).Write(path);
        using var file = GgufFile.Open(path);

        var missing = Assert.Throws<InvalidModelFileException>(() => file.Metadata.GetString("general.name"));
        Assert.Equal(path, missing.FilePath);
        Assert.Contains("'general.name' is missing", missing.Message);
        Assert.Contains(path, missing.Message);

        var wrong = Assert.Throws<InvalidModelFileException>(() => file.Metadata.GetString("deepseek2.block_count"));
        Assert.Contains("'deepseek2.block_count' is UInt32, expected String", wrong.Message);

        var wrongArray = Assert.Throws<InvalidModelFileException>(() => file.Metadata.GetArray<string>("tok"));
        Assert.Contains("array of Int32, expected an array of String", wrongArray.Message);
        Assert.Equal(61u, file.Metadata.GetUInt32("deepseek2.block_count"));
    }

    public static TheoryData<DType, int[]> DTypesAndShapes => new()
    {
        { DType.F32, new[] { 3, 5 } },
        { DType.F16, new[] { 7 } },
        { DType.BF16, new[] { 2, 3, 4 } },
        { DType.I32, new[] { 1, 2, 3, 4 } },
        { DType.Q8_0, new[] { 3, 64 } },
        { DType.Q4_0, new[] { 2, 2, 32 } },
        { DType.Q4_K, new[] { 2, 512 } },
        { DType.Q6_K, new[] { 3, 256 } },
        { DType.F32, new[] { 0, 4 } },
        { DType.F32, Array.Empty<int>() },
    };

    [Theory]
    [MemberData(nameof(DTypesAndShapes))]
    public void Tensors_of_every_dtype_round_trip_bit_exactly(DType dtype, int[] shape)
    {
        using var t = TestTensors.Random(dtype, seed: shape.Length * 31 + (int)dtype, shape);
        string path = _dir.File("t.gguf");
        new GgufWriter().AddTensor("w", t).Write(path);

        foreach (var mode in new[] { FileLoadMode.MemoryMapped, FileLoadMode.ReadIntoMemory })
        {
            using var file = GgufFile.Open(path, mode);
            var info = file.GetTensorInfo("w");
            Assert.Equal(dtype, info.DType);
            Assert.Equal(shape, info.Shape);
            Assert.Equal(shape.Reverse().Select(d => (long)d), info.Dimensions);
            var view = file.GetTensor("w");
            Assert.Equal(dtype, view.DType);
            Assert.Equal(shape, view.Shape);
            Assert.Same(file.Contents, view.KeepAlive);
            Assert.Equal(TestTensors.Bytes(t), TestTensors.Bytes(view));
        }
    }

    [Fact]
    public void Many_tensors_with_custom_alignment_and_version_2_keep_offsets_aligned()
    {
        var tensors = new[]
        {
            ("token_embd.weight", TestTensors.Random(DType.Q8_0, 1, 5, 32)),
            ("blk.0.attn_norm.weight", TestTensors.Random(DType.F32, 2, 3)),
            ("blk.0.ffn_down.weight", TestTensors.Random(DType.Q6_K, 3, 2, 256)),
            ("output.weight", TestTensors.Random(DType.BF16, 4, 7, 3)),
        };
        try
        {
            var writer = new GgufWriter { Version = 2 }.AddMetadata(GgufFile.AlignmentKey, GgufValue.UInt32(64));
            foreach (var (n, t) in tensors) writer.AddTensor(n, t);
            string path = _dir.File("many.gguf");
            writer.Write(path);

            using var file = GgufFile.Open(path);
            Assert.Equal(2u, file.Version);
            Assert.Equal(64u, file.Alignment);
            Assert.Equal(0, file.DataOffset % 64);
            Assert.Equal(tensors.Select(t => t.Item1), file.TensorNames);
            foreach (var (n, t) in tensors)
            {
                Assert.Equal(0, file.GetTensorInfo(n).Offset % 64);
                Assert.Equal(TestTensors.Bytes(t), TestTensors.Bytes(file.GetTensor(n)));
            }
            // The file ends on an aligned boundary past the data start, like llama.cpp's writer.
            Assert.Equal(0, (new FileInfo(path).Length - file.DataOffset) % 64);
        }
        finally
        {
            foreach (var (_, t) in tensors) t.Dispose();
        }
    }

    [Fact]
    public void Factory_tensors_are_produced_in_order_during_the_write()
    {
        var produced = new List<string>();
        var writer = new GgufWriter();
        foreach (var name in new[] { "a", "b", "c" })
        {
            writer.AddTensor(name, DType.F32, [2, 2], () =>
            {
                produced.Add(name);
                return Tensor.FromArray([1, 2, 3, name[0]], 2, 2);
            });
        }
        Assert.Empty(produced); // nothing is produced before Write
        string path = _dir.File("lazy.gguf");
        writer.Write(path);
        Assert.Equal(new[] { "a", "b", "c" }, produced);

        using var file = GgufFile.Open(path);
        Assert.Equal(new float[] { 1, 2, 3, 'b' }, file.GetTensor("b").AsSpan<float>().ToArray());
    }

    [Fact]
    public void Factory_that_returns_the_wrong_shape_fails_the_write_and_leaves_no_file()
    {
        string path = _dir.File("bad-factory.gguf");
        var writer = new GgufWriter().AddTensor("x", DType.F32, [4], () => Tensor.Allocate(DType.F32, 5));
        var e = Assert.Throws<InvalidOperationException>(() => writer.Write(path));
        Assert.Contains("declared", e.Message);
        Assert.False(File.Exists(path));
        Assert.Empty(Directory.GetFiles(_dir.Path));
    }

    [Fact]
    public void Writer_rejects_dtypes_and_ranks_gguf_cannot_hold()
    {
        using var fp8 = Tensor.Allocate(DType.F8E4M3, 2, 2);
        Assert.Contains("F8E4M3 has no GGUF", Assert.Throws<ArgumentException>(() => new GgufWriter().AddTensor("x", fp8)).Message);
        using var rank5 = Tensor.Allocate(DType.F32, 1, 1, 1, 1, 2);
        Assert.Contains("rank 5", Assert.Throws<ArgumentException>(() => new GgufWriter().AddTensor("x", rank5)).Message);
        using var t = Tensor.Allocate(DType.F32, 2);
        Assert.Throws<ArgumentException>(() => new GgufWriter().AddTensor("x", t).AddTensor("x", t));
        Assert.Throws<ArgumentException>(() => new GgufWriter().AddMetadata("k", 1).AddMetadata("k", 2));
        var deep = GgufArray.Of(new uint[] { 1 });
        for (int i = 0; i < GgufFile.MaxArrayNesting; i++) deep = GgufArray.Of(new[] { deep });
        Assert.Throws<ArgumentException>(() => new GgufWriter().AddMetadata("deep", deep));
    }

    [Fact]
    public void Rewriting_a_file_from_its_own_views_reproduces_it_byte_for_byte()
    {
        using var a = TestTensors.Random(DType.Q4_K, 5, 2, 256);
        using var b = TestTensors.Random(DType.F16, 6, 3, 3);
        string first = _dir.File("first.gguf"), second = _dir.File("second.gguf");
        new GgufWriter().AddMetadata(EveryValueType()).AddTensor("a", a).AddTensor("b", b).Write(first);
        using (var file = GgufFile.Open(first))
        {
            var w = new GgufWriter().AddMetadata(file.Metadata);
            foreach (var name in file.TensorNames) w.AddTensor(name, file.GetTensor(name));
            w.Write(second);
        }
        Assert.Equal(File.ReadAllBytes(first), File.ReadAllBytes(second));
    }
}
