using SharpSeek.Formats.Gguf;
using SharpSeek.Tensors;

namespace SharpSeek.Formats.Tests;

public sealed class GgufHostileInputTests : IDisposable
{
    private readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    private InvalidModelFileException Rejects(RawGguf raw, string expectedFragment) => Rejects(raw.ToArray(), expectedFragment);

    private InvalidModelFileException Rejects(byte[] bytes, string expectedFragment)
    {
        string path = _dir.File($"bad-{Guid.NewGuid():N}.gguf");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidModelFileException>(() => { using var f = GgufFile.Open(path); });
        Assert.Equal(path, e.FilePath);
        Assert.StartsWith(path + ": ", e.Message);
        Assert.Contains(expectedFragment, e.Message);
        return e;
    }

    /// <summary>Rejects and, on a second (warmed-up) attempt, allocates only a bounded amount of managed memory.</summary>
    private void RejectsCheaply(RawGguf raw, string expectedFragment)
    {
        string path = raw.SaveTo(_dir, $"cheap-{Guid.NewGuid():N}.gguf");
        Assert.Contains(expectedFragment, Assert.Throws<InvalidModelFileException>(() => GgufFile.Open(path)).Message);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<InvalidModelFileException>(() => GgufFile.Open(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 256 * 1024, $"rejecting a hostile claim allocated {allocated} bytes");
    }

    [Fact]
    public void Empty_and_tiny_files_are_rejected()
    {
        Rejects([], "only 0 bytes long");
        Rejects("GGU"u8.ToArray(), "only 3 bytes long");
        Rejects("GGUF"u8.ToArray(), "version");
    }

    [Fact]
    public void Wrong_magic_is_rejected_with_the_bytes_found()
        => Rejects(new RawGguf().Ascii("GGML").U32(3).U64(0).U64(0), "starts with 47474D4C");

    [Theory]
    [InlineData(1u, "version 1 is not supported")]
    [InlineData(999u, "unsupported GGUF version 999")]
    [InlineData(0u, "unsupported GGUF version 0")]
    [InlineData(0x03000000u, "big-endian")]
    public void Unsupported_versions_are_rejected(uint version, string fragment)
        => Rejects(new RawGguf().Header(0, 0, version), fragment);

    [Fact]
    public void Absurd_tensor_count_is_rejected_without_allocating_for_it()
        => RejectsCheaply(new RawGguf().Header(1UL << 60, 0).Zeros(64), "tensor count 1152921504606846976 is impossible");

    [Fact]
    public void Absurd_metadata_count_is_rejected_without_allocating_for_it()
        => RejectsCheaply(new RawGguf().Header(0, 1UL << 60).Zeros(64), "metadata count 1152921504606846976 is impossible");

    [Fact]
    public void Huge_key_length_is_rejected_without_allocating_for_it()
        => RejectsCheaply(new RawGguf().Header(0, 1).U64(1UL << 50).Zeros(32), "claims 1125899906842624 bytes but only");

    [Fact]
    public void Huge_string_value_length_is_rejected_without_allocating_for_it()
        => RejectsCheaply(new RawGguf().Header(0, 1).Str("k").U32((uint)GgufValueType.String).U64(1UL << 50).Zeros(32), "claims 1125899906842624 bytes");

    [Theory]
    [InlineData(GgufValueType.UInt8)]
    [InlineData(GgufValueType.Float64)]
    [InlineData(GgufValueType.String)]
    [InlineData(GgufValueType.Array)]
    [InlineData(GgufValueType.Bool)]
    public void Huge_array_count_is_rejected_without_allocating_for_it(GgufValueType elementType)
        => RejectsCheaply(new RawGguf().Header(0, 1).Str("k").U32((uint)GgufValueType.Array).U32((uint)elementType).U64(1UL << 62).Zeros(40),
            "claims 4611686018427387904");

    [Fact]
    public void String_array_whose_count_the_bytes_cannot_back_fails_at_the_first_missing_element()
    {
        // 1000 claimed strings pass the up-front check (8 bytes each fit) but the lengths inside are garbage.
        var raw = new RawGguf().Header(0, 1).Str("k").U32((uint)GgufValueType.Array).U32((uint)GgufValueType.String).U64(1000);
        raw.Str("ok");
        for (int i = 0; i < 999; i++) raw.U64(ulong.MaxValue);
        Rejects(raw, "element 1 of metadata 'k'");
    }

    [Fact]
    public void Arrays_nested_too_deep_are_rejected()
    {
        var raw = new RawGguf().Header(0, 1).Str("k").U32((uint)GgufValueType.Array);
        for (int i = 0; i < 40; i++) raw.U32((uint)GgufValueType.Array).U64(1);
        raw.Zeros(64);
        Rejects(raw, "nests arrays more than 8 deep");
    }

    [Fact]
    public void Unknown_value_types_are_rejected()
    {
        Rejects(new RawGguf().Header(0, 1).Str("k").U32(13).U32(0), "unknown value type 13");
        Rejects(new RawGguf().Header(0, 1).Str("k").U32((uint)GgufValueType.Array).U32(99).U64(0), "array of unknown value type 99");
    }

    [Fact]
    public void Bool_other_than_0_or_1_is_rejected()
    {
        Rejects(new RawGguf().Header(0, 1).Str("flag").U32((uint)GgufValueType.Bool).U8(2), "bool stored as 2");
        Rejects(new RawGguf().Header(0, 1).Str("flags").U32((uint)GgufValueType.Array).U32((uint)GgufValueType.Bool).U64(3).Bytes(1, 5, 0),
            "element 1 of metadata 'flags' is a bool stored as 5");
    }

    [Fact]
    public void Invalid_utf8_in_a_key_is_rejected()
        => Rejects(new RawGguf().Header(0, 1).U64(2).Bytes(0xC3, 0x28).U32((uint)GgufValueType.UInt8).U8(0), "not valid UTF-8");

    [Fact]
    public void Duplicate_keys_and_tensor_names_are_rejected()
    {
        Rejects(new RawGguf().Header(0, 2).Str("k").U32(0).U8(1).Str("k").U32(0).U8(2), "'k' appears twice");
        Rejects(new RawGguf().Header(2, 0).TensorInfo("t", 0, 0, 4).TensorInfo("t", 0, 32, 4).PadTo(32).Zeros(64), "'t' appears twice");
    }

    [Theory]
    [InlineData(0u, "not a power of two")]
    [InlineData(3u, "not a power of two")]
    [InlineData(48u, "not a power of two")]
    public void Bad_alignment_values_are_rejected(uint alignment, string fragment)
        => Rejects(new RawGguf().Header(0, 1).Str(GgufFile.AlignmentKey).U32((uint)GgufValueType.UInt32).U32(alignment), fragment);

    [Fact]
    public void Alignment_of_the_wrong_type_is_rejected()
        => Rejects(new RawGguf().Header(0, 1).Str(GgufFile.AlignmentKey).U32((uint)GgufValueType.Int32).U32(32), "'general.alignment' is Int32, expected UInt32");

    [Fact]
    public void More_than_four_dimensions_is_rejected()
        => Rejects(new RawGguf().Header(1, 0).TensorInfo("t", 0, 0, 1, 1, 1, 1, 1).PadTo(32).Zeros(32), "has 5 dimensions");

    [Fact]
    public void Absurd_n_dims_is_rejected_before_reading_dims()
        => RejectsCheaply(new RawGguf().Header(1, 0).Str("t").U32(uint.MaxValue).Zeros(64), "has 4294967295 dimensions");

    [Fact]
    public void Dimension_beyond_int_range_is_rejected()
        => Rejects(new RawGguf().Header(1, 0).TensorInfo("t", 0, 0, 1UL << 31).PadTo(32), "dimension 0 of tensor 't' is 2147483648");

    [Fact]
    public void Dimensions_whose_product_overflows_are_rejected()
        => Rejects(new RawGguf().Header(1, 0).TensorInfo("t", 0, 0, int.MaxValue, int.MaxValue, int.MaxValue).PadTo(32), "overflow a 64-bit element count");

    [Fact]
    public void Element_count_whose_byte_size_overflows_is_rejected()
        => Rejects(new RawGguf().Header(1, 0).TensorInfo("t", 0, 0, int.MaxValue, int.MaxValue).PadTo(32), "too large to address");

    [Fact]
    public void Zero_sized_dimension_makes_an_empty_tensor_even_beside_huge_ones()
    {
        string path = new RawGguf().Header(1, 0).TensorInfo("t", 0, 0, 0, int.MaxValue, int.MaxValue).PadTo(32).SaveTo(_dir);
        using var file = GgufFile.Open(path);
        var t = file.GetTensor("t");
        Assert.Equal(0, t.ElementCount);
        Assert.Equal(new[] { int.MaxValue, int.MaxValue, 0 }, t.Shape);
    }

    [Fact]
    public void Offset_past_the_end_of_the_file_is_rejected()
        => Rejects(new RawGguf().Header(1, 0).TensorInfo("t", 0, 1UL << 40, 4).PadTo(32).Zeros(16), "lies outside the data section");

    [Fact]
    public void Offset_beyond_any_file_is_rejected()
        => Rejects(new RawGguf().Header(1, 0).TensorInfo("t", 0, ulong.MaxValue - 31, 4).PadTo(32), "beyond any file");

    [Fact]
    public void Data_running_past_end_of_file_is_rejected()
        => Rejects(new RawGguf().Header(1, 0).TensorInfo("t", 0, 0, 8).PadTo(32).Zeros(31), "[0, 32) lies outside the data section (31 bytes");

    [Fact]
    public void Misaligned_offset_is_rejected()
        => Rejects(new RawGguf().Header(1, 0).TensorInfo("t", 0, 4, 4).PadTo(32).Zeros(64), "not a multiple of the alignment 32");

    [Fact]
    public void Overlapping_tensors_are_rejected()
        => Rejects(new RawGguf().Header(2, 0).TensorInfo("a", 0, 0, 16).TensorInfo("b", 0, 32, 16).PadTo(32).Zeros(128), "'a' [0, 64) and 'b' [32, ...) overlap");

    [Fact]
    public void Block_row_length_that_is_not_whole_blocks_is_rejected()
        => Rejects(new RawGguf().Header(1, 0).TensorInfo("q", GgmlTypes.Q8_0, 0, 33, 2).PadTo(32).Zeros(128), "row length 33 is not a multiple of the block size 32");

    [Fact]
    public void Unsupported_ggml_types_list_fine_and_fail_only_when_fetched()
    {
        string path = new RawGguf().Header(3, 1)
            .Str("general.architecture").U32((uint)GgufValueType.String).Str("deepseek2")
            .TensorInfo("q5", 13, 0, 256, 2)
            .TensorInfo("alien", 9999, 0, 4)
            .TensorInfo("ok", GgmlTypes.F32, 0, 4)
            .PadTo(32).Zeros(512).SaveTo(_dir);
        using var file = GgufFile.Open(path);
        Assert.Equal("deepseek2", file.Metadata.GetString("general.architecture"));
        Assert.Equal(new[] { "q5", "alien", "ok" }, file.TensorNames);
        var q5 = file.GetTensorInfo("q5");
        Assert.Null(q5.DType);
        Assert.Equal("Q5_K", q5.GgmlTypeName);
        Assert.Equal(new[] { 2, 256 }, q5.Shape);
        var e = Assert.Throws<InvalidModelFileException>(() => file.GetTensor("q5"));
        Assert.Contains("unsupported ggml type 13 (Q5_K) for tensor 'q5'", e.Message);
        Assert.Contains(path, e.Message);
        Assert.Contains("unsupported ggml type 9999 (unknown) for tensor 'alien'", Assert.Throws<InvalidModelFileException>(() => file.GetTensor("alien")).Message);
        Assert.Equal(4, file.GetTensor("ok").ElementCount);
    }

    [Fact]
    public void Asking_for_a_tensor_that_is_not_there_names_file_and_tensor()
    {
        string path = new RawGguf().Header(0, 0).SaveTo(_dir);
        using var file = GgufFile.Open(path);
        var e = Assert.Throws<InvalidModelFileException>(() => file.GetTensor("output.weight"));
        Assert.Contains("no tensor named 'output.weight'", e.Message);
        Assert.Equal(path, e.FilePath);
    }

    [Fact]
    public void Every_truncation_of_a_valid_file_before_its_last_data_byte_is_rejected()
    {
        using var a = TestTensors.Random(DType.Q8_0, 1, 2, 32);
        using var b = TestTensors.Random(DType.F32, 2, 3);
        string path = _dir.File("valid.gguf");
        new GgufWriter().AddMetadata("name", "x").AddMetadata("arr", GgufArray.Of(new[] { "p", "q" })).AddTensor("a", a).AddTensor("b", b).Write(path);
        byte[] full = File.ReadAllBytes(path);
        long dataEnd;
        using (var f = GgufFile.Open(path)) dataEnd = f.DataOffset + f.GetTensorInfo("b").Offset + f.GetTensorInfo("b").ByteLength!.Value;

        for (int len = 0; len < full.Length; len++)
        {
            string cut = _dir.File("cut.gguf");
            File.WriteAllBytes(cut, full.AsSpan(0, len).ToArray());
            if (len < dataEnd)
            {
                Assert.Throws<InvalidModelFileException>(() => GgufFile.Open(cut));
            }
            else
            {
                // Only trailing padding is missing: the tensors are all there.
                using var f = GgufFile.Open(cut);
                Assert.Equal(TestTensors.Bytes(b), TestTensors.Bytes(f.GetTensor("b")));
            }
        }
    }
}
