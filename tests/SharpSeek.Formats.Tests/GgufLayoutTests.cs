using SharpSeek.Formats.Gguf;
using SharpSeek.Tensors;

namespace SharpSeek.Formats.Tests;

/// <summary>The writer's output compared with bytes worked out by hand from the GGUF specification.</summary>
public sealed class GgufLayoutTests : IDisposable
{
    private readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    private static readonly string ExpectedHex = string.Concat(
        // header: magic, version 3, 2 tensors, 4 metadata entries                            (bytes 0..23)
        "47475546", "03000000", "0200000000000000", "0400000000000000",
        // "a" = UInt32 7: key length 1, 'a', type 4, value                                   (24..40)
        "0100000000000000", "61", "04000000", "07000000",
        // "s" = String "hi": key, type 8, length 2, 'h' 'i'                                   (41..63)
        "0100000000000000", "73", "08000000", "0200000000000000", "6869",
        // "r" = Array of Int16 [1, -1]: key, type 9, element type 3, count 2, elements        (64..92)
        "0100000000000000", "72", "09000000", "03000000", "0200000000000000", "0100", "FFFF",
        // "b" = Bool true: key, type 7, one byte                                              (93..106)
        "0100000000000000", "62", "07000000", "01",
        // tensor "t": F32 shape [1, 2] stored as dims (2, 1), type 0, offset 0                (107..147)
        "0100000000000000", "74", "02000000", "0200000000000000", "0100000000000000", "00000000", "0000000000000000",
        // tensor "u": I32 shape [3], type 26, offset 32 (8 bytes of "t" rounded up to 32)     (148..180)
        "0100000000000000", "75", "01000000", "0300000000000000", "1A000000", "2000000000000000",
        // padding to the 32-byte aligned data section at 192                                  (181..191)
        new string('0', 11 * 2),
        // data of "t": 1.0f, 2.0f, then padding to offset 32                                  (192..223)
        "0000803F", "00000040", new string('0', 24 * 2),
        // data of "u": 5, -6, 7, then padding so the file ends aligned                        (224..255)
        "05000000", "FAFFFFFF", "07000000", new string('0', 20 * 2));

    [Fact]
    public void Tiny_file_matches_hand_computed_bytes()
    {
        using var t = Tensor.FromArray([1f, 2f], 1, 2);
        using var u = Tensor.Allocate(DType.I32, 3);
        u.AsSpan<int>()[0] = 5; u.AsSpan<int>()[1] = -6; u.AsSpan<int>()[2] = 7;
        string path = _dir.File("tiny.gguf");
        new GgufWriter()
            .AddMetadata("a", GgufValue.UInt32(7))
            .AddMetadata("s", "hi")
            .AddMetadata("r", GgufArray.Of(new short[] { 1, -1 }))
            .AddMetadata("b", true)
            .AddTensor("t", t)
            .AddTensor("u", u)
            .Write(path);

        byte[] actual = File.ReadAllBytes(path);
        Assert.Equal(256, actual.Length);
        Assert.Equal(ExpectedHex, Convert.ToHexString(actual));
    }

    [Fact]
    public void Reader_understands_the_hand_computed_bytes()
    {
        string path = _dir.File("hand.gguf");
        File.WriteAllBytes(path, Convert.FromHexString(ExpectedHex));
        using var file = GgufFile.Open(path);
        Assert.Equal(192, file.DataOffset);
        Assert.Equal(7u, file.Metadata.GetUInt32("a"));
        Assert.Equal("hi", file.Metadata.GetString("s"));
        Assert.Equal(new short[] { 1, -1 }, file.Metadata.GetArray<short>("r"));
        Assert.True(file.Metadata.GetBool("b"));
        Assert.Equal(new[] { 1, 2 }, file.GetTensorInfo("t").Shape);
        Assert.Equal(new float[] { 1, 2 }, file.GetTensor("t").AsSpan<float>().ToArray());
        Assert.Equal(new[] { 5, -6, 7 }, file.GetTensor("u").AsSpan<int>().ToArray());
        Assert.Equal(32, file.GetTensorInfo("u").Offset);
    }
}
