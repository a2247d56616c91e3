using System.Buffers.Binary;
using System.Text;
using SharpSeek.Formats.Safetensors;

namespace SharpSeek.Formats.Tests;

public sealed class SafetensorsHostileInputTests : IDisposable
{
    private readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    private static byte[] Build(string json, int dataBytes) => Build(Encoding.UTF8.GetBytes(json), dataBytes);

    private static byte[] Build(byte[] json, int dataBytes)
    {
        var bytes = new byte[8 + json.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        json.CopyTo(bytes, 8);
        return bytes;
    }

    private string Save(byte[] bytes)
    {
        string path = _dir.File($"f-{Guid.NewGuid():N}.safetensors");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private InvalidModelFileException Rejects(byte[] bytes, string fragment)
    {
        string path = Save(bytes);
        var e = Assert.Throws<InvalidModelFileException>(() => SafetensorsFile.Open(path));
        Assert.Equal(path, e.FilePath);
        Assert.StartsWith(path + ": ", e.Message);
        Assert.Contains(fragment, e.Message);
        return e;
    }

    private InvalidModelFileException Rejects(string json, int dataBytes, string fragment) => Rejects(Build(json, dataBytes), fragment);

    [Fact]
    public void Files_shorter_than_the_length_prefix_are_rejected()
    {
        Rejects([], "0 bytes, too short");
        Rejects([1, 2, 3, 4, 5, 6, 7], "7 bytes, too short");
    }

    [Fact]
    public void Header_length_larger_than_the_file_is_rejected_without_allocating_for_it()
    {
        var bytes = Build("{}", 0);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 1UL << 60);
        string path = Save(bytes);
        Assert.Contains("header length 1152921504606846976 is larger than the 2 bytes", Assert.Throws<InvalidModelFileException>(() => SafetensorsFile.Open(path)).Message);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<InvalidModelFileException>(() => SafetensorsFile.Open(path));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 256 * 1024);
    }

    [Fact]
    public void Header_over_the_size_limit_is_rejected_before_it_is_read()
    {
        string path = _dir.File("sparse.safetensors");
        using (var fs = new FileStream(path, FileMode.CreateNew))
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, SafetensorsFile.MaxHeaderBytes + 1);
            fs.Write(len);
            fs.SetLength(8 + SafetensorsFile.MaxHeaderBytes + 1); // sparse: costs no disk
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InvalidModelFileException>(() => SafetensorsFile.Open(path));
        Assert.Contains("exceeds the 100000000-byte limit", e.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
    }

    [Theory]
    [InlineData("[]", "header is a JSON array")]
    [InlineData("\"x\"", "header is a JSON string")]
    [InlineData("123", "header is a JSON number")]
    [InlineData("null", "header is a JSON null")]
    [InlineData("{", "not valid JSON")]
    [InlineData("{\"a\":}", "not valid JSON")]
    [InlineData("", "not valid JSON")]
    [InlineData("{\"t\": 5}", "entry for tensor 't' is a JSON number")]
    [InlineData("{\"t\": {\"shape\": [1], \"data_offsets\": [0, 4]}}", "tensor 't' has no string 'dtype'")]
    [InlineData("{\"t\": {\"dtype\": \"F32\", \"data_offsets\": [0, 4]}}", "tensor 't' has no 'shape' array")]
    [InlineData("{\"t\": {\"dtype\": \"F32\", \"shape\": [1]}}", "no 'data_offsets' pair")]
    [InlineData("{\"t\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4, 8]}}", "no 'data_offsets' pair")]
    [InlineData("{\"t\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}", "dimension 0 of tensor 't' is -1")]
    [InlineData("{\"t\": {\"dtype\": \"F32\", \"shape\": [1.5], \"data_offsets\": [0, 4]}}", "dimension 0 of tensor 't' is 1.5")]
    [InlineData("{\"t\": {\"dtype\": \"F32\", \"shape\": [\"2\"], \"data_offsets\": [0, 4]}}", "dimension 0 of tensor 't' is \"2\"")]
    [InlineData("{\"t\": {\"dtype\": \"F32\", \"shape\": [3000000000], \"data_offsets\": [0, 4]}}", "larger than the supported maximum")]
    [InlineData("{\"t\": {\"dtype\": \"F32\", \"shape\": [99999999999999999999999], \"data_offsets\": [0, 4]}}", "expected a non-negative integer")]
    [InlineData("{\"t\": {\"dtype\": \"F32\", \"shape\": [2147483647, 2147483647, 2147483647], \"data_offsets\": [0, 4]}}", "overflows a 64-bit element count")]
    [InlineData("{\"t\": {\"dtype\": \"F64\", \"shape\": [2147483647, 2147483647], \"data_offsets\": [0, 4]}}", "too large to address")]
    [InlineData("{\"t\": {\"dtype\": \"F32\", \"shape\": [1,1,1,1,1,1,1,1,1], \"data_offsets\": [0, 4]}}", "rank 9")]
    [InlineData("{\"t\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [-4, 4]}}", "data_offsets begin of tensor 't' is -4")]
    [InlineData("{\"t\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, \"4\"]}}", "data_offsets end of tensor 't'")]
    [InlineData("{\"t\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [8, 4]}}", "begin after end")]
    [InlineData("{\"t\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 4]}}", "F32 [2] and needs 8 bytes, but its data_offsets [0, 4) span 4")]
    [InlineData("{\"t\": {\"dtype\": \"F8_E4M3\", \"shape\": [3, 3], \"data_offsets\": [0, 8]}}", "needs 9 bytes")]
    [InlineData("{\"t\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}", "extends past the end of the 8-byte data section")]
    [InlineData("{\"t\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}, \"t\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}", "lists 't' twice")]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, \"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}", "'a' [0, 8) and 'b' [4, 8) overlap")]
    [InlineData("{\"__metadata__\": [1]}", "'__metadata__' is a JSON array")]
    [InlineData("{\"__metadata__\": {\"k\": 1}}", "'__metadata__' entry 'k' is a JSON number, expected a string")]
    public void Malformed_headers_are_rejected_with_a_clear_message(string json, string fragment)
        => Rejects(json, 8, fragment);

    [Fact]
    public void Invalid_utf8_inside_the_header_is_rejected()
    {
        var json = Encoding.UTF8.GetBytes("{\"__metadata__\": {\"k\": \"ab\"}}");
        int at = Array.IndexOf(json, (byte)'a', 20);
        json[at] = 0xC3;
        json[at + 1] = 0x28;
        Rejects(Build(json, 0), "header contains invalid text");
    }

    [Fact]
    public void Unknown_and_unsupported_dtypes_list_fine_and_fail_only_when_fetched()
    {
        string json = "{\"weird\": {\"dtype\": \"Q9_ZZ\", \"shape\": [3], \"data_offsets\": [0, 5]}," +
                      " \"dbl\": {\"dtype\": \"F64\", \"shape\": [1], \"data_offsets\": [8, 16]}," +
                      " \"ok\": {\"dtype\": \"I32\", \"shape\": [1], \"data_offsets\": [16, 20]}}";
        string path = Save(Build(json, 20));
        using var file = SafetensorsFile.Open(path);
        Assert.Equal(new[] { "weird", "dbl", "ok" }, file.TensorNames);
        Assert.Null(file.GetTensorInfo("weird").DType);
        Assert.Equal("Q9_ZZ", file.GetTensorInfo("weird").DTypeName);
        var e = Assert.Throws<InvalidModelFileException>(() => file.GetTensor("weird"));
        Assert.Contains("unsupported dtype 'Q9_ZZ' for tensor 'weird'", e.Message);
        Assert.Contains("unsupported dtype 'F64' for tensor 'dbl'", Assert.Throws<InvalidModelFileException>(() => file.GetTensor("dbl")).Message);
        Assert.Equal(1, file.GetTensor("ok").ElementCount);
    }

    [Fact]
    public void Every_truncation_of_a_valid_file_before_its_last_data_byte_is_rejected()
    {
        using var a = TestTensors.Random(SharpSeek.Tensors.DType.BF16, 1, 3, 3);
        string path = _dir.File("valid.safetensors");
        var w = new SafetensorsWriter().AddTensor("a", a);
        w.Metadata["k"] = "v";
        w.Write(path);
        byte[] full = File.ReadAllBytes(path);
        for (int len = 0; len < full.Length; len++)
        {
            string cut = _dir.File("cut.safetensors");
            File.WriteAllBytes(cut, full.AsSpan(0, len).ToArray());
            Assert.Throws<InvalidModelFileException>(() => SafetensorsFile.Open(cut));
        }
    }

    private void WriteShard(string name, string tensor)
    {
        using var t = TestTensors.Random(SharpSeek.Tensors.DType.F32, 1, 2);
        new SafetensorsWriter().AddTensor(tensor, t).Write(_dir.File(name));
    }

    private InvalidModelFileException IndexRejected(string indexJson, string fragment)
    {
        string indexPath = _dir.File(SafetensorsDirectory.IndexFileName);
        File.WriteAllText(indexPath, indexJson);
        var e = Assert.Throws<InvalidModelFileException>(() => SafetensorsDirectory.Open(_dir.Path));
        Assert.Contains(fragment, e.Message);
        return e;
    }

    [Theory]
    [InlineData("{\"weight_map\": {\"a\": \"../outside.safetensors\"}}", "not a plain file name")]
    [InlineData("{\"weight_map\": {\"a\": \"/etc/passwd\"}}", "not a plain file name")]
    [InlineData("{\"weight_map\": {\"a\": \"..\"}}", "not a plain file name")]
    [InlineData("{\"weight_map\": {\"a\": \"\"}}", "not a plain file name")]
    [InlineData("{\"weight_map\": {\"a\": \"missing.safetensors\"}}", "shard 'missing.safetensors' named in weight_map does not exist")]
    [InlineData("{\"weight_map\": {\"nope\": \"s1.safetensors\"}}", "puts tensor 'nope' in 's1.safetensors', but that shard has no such tensor")]
    [InlineData("{\"weight_map\": {\"a\": 3}}", "weight_map entry 'a' is a JSON number")]
    [InlineData("{\"weight_map\": {\"a\": \"s1.safetensors\", \"a\": \"s1.safetensors\"}}", "lists 'a' twice")]
    [InlineData("{\"metadata\": {}}", "no 'weight_map' object")]
    [InlineData("[]", "index is a JSON array")]
    [InlineData("{weight_map", "index is not valid JSON")]
    public void Hostile_indexes_are_rejected(string indexJson, string fragment)
    {
        WriteShard("s1.safetensors", "a");
        var e = IndexRejected(indexJson, fragment);
        Assert.Equal(_dir.File(SafetensorsDirectory.IndexFileName), e.FilePath);
    }

    [Fact]
    public void Bad_shard_behind_a_good_index_is_reported_with_the_shard_path()
    {
        string shard = _dir.File("s1.safetensors");
        File.WriteAllBytes(shard, Build("[]", 0));
        var e = IndexRejected("{\"weight_map\": {\"a\": \"s1.safetensors\"}}", "header is a JSON array");
        Assert.Equal(shard, e.FilePath);
    }

    [Fact]
    public void Directory_with_nothing_to_load_is_rejected()
    {
        var e = Assert.Throws<InvalidModelFileException>(() => SafetensorsDirectory.Open(_dir.Path));
        Assert.Contains("neither model.safetensors.index.json nor any .safetensors file", e.Message);
    }
}
