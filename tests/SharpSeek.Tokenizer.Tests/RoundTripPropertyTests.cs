using System.Text;
using CsCheck;

namespace SharpSeek.Tokenizer.Tests;

/// <summary>
/// decode(encode(s)) == s for arbitrary valid Unicode (CsCheck): byte-level BPE is lossless by construction, so any
/// difference is a bug in splitting, merging, added-token matching or decoding. Lone surrogates are left out on
/// purpose: they are not text, and Encode documents that they become U+FFFD.
/// </summary>
public sealed class RoundTripPropertyTests
{
    private static readonly Lazy<ByteLevelBpeTokenizer> s_bundled = new(() =>
        ByteLevelBpeTokenizer.FromDirectory(Path.Combine(RepositoryPaths.Root, "models", "sharpseek-r1-tiny")));

    // Text that looks like the markers: the added tokens themselves, pieces of them, and near misses.
    private static readonly string[] MarkerLike =
    [
        "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>", "<think>", "</think>",
        "<｜tool▁calls▁begin｜>", "<｜tool▁sep｜>", "<｜", "｜>", "▁", "<think", "</think >", "<|endoftext|>", "<｜User|>",
    ];

    private static readonly Gen<string> CodePoint = Gen.Frequency(
        (8, Gen.Int[0x20, 0x7E]), (2, Gen.OneOf(Gen.Const(0x0A), Gen.Const(0x0D), Gen.Const(0x09), Gen.Const(0x20), Gen.Const(0x3000))),
        (1, Gen.Int[0x00, 0x1F]), (2, Gen.Int[0xA0, 0x2FF]), (1, Gen.Int[0x300, 0x36F]), (2, Gen.Int[0x4E00, 0x9FFF]),
        (1, Gen.Int[0xAC00, 0xD7A3]), (1, Gen.Int[0xE000, 0xFFFD]), (2, Gen.Int[0x1F300, 0x1FAFF]), (1, Gen.Int[0x10000, 0x10FFFF]))
        .Select(char.ConvertFromUtf32);

    private static readonly Gen<string> Texts = Gen.Frequency(
        (6, CodePoint), (1, Gen.OneOf(MarkerLike.Select(Gen.Const).ToArray())), (1, Gen.Int[0, 99999].Select(n => n.ToString(System.Globalization.CultureInfo.InvariantCulture))))
        .Array[0, 40].Select(parts => string.Concat(parts));

    /// <summary>The bundled model's small vocabulary and the real DeepSeek-V3 one (128K tokens, 800 added tokens).</summary>
    private static ByteLevelBpeTokenizer Tokenizer(string name) => name == "bundled" ? s_bundled.Value : DeepSeekV3Tokenizer.Instance;

    [Theory]
    [InlineData("bundled")]
    [InlineData("deepseek-v3")]
    public void Decode_of_encode_is_the_identity_on_text(string name)
    {
        var tokenizer = Tokenizer(name);
        Texts.Sample(text =>
        {
            foreach (bool special in (ReadOnlySpan<bool>)[false, true])
            {
                int[] ids = tokenizer.Encode(text, addSpecialTokens: false, parseSpecialTokens: special);
                Assert.Equal(text, tokenizer.Decode(ids));
            }
        }, iter: 3000, threads: 1);
    }

    [Theory]
    [InlineData("bundled")]
    [InlineData("deepseek-v3")]
    public void Streaming_decode_agrees_with_whole_decode(string name)
    {
        var tokenizer = Tokenizer(name);
        Texts.Sample(text =>
        {
            int[] ids = tokenizer.Encode(text);
            var stream = tokenizer.CreateStreamDecoder();
            var sb = new StringBuilder();
            foreach (int id in ids) sb.Append(stream.Append(id));
            sb.Append(stream.Flush());
            Assert.Equal(text, sb.ToString());
        }, iter: 1000, threads: 1);
    }

    [Fact]
    public void Marker_text_is_one_token_only_when_special_tokens_are_parsed()
    {
        var tokenizer = s_bundled.Value;
        Gen.OneOf(MarkerLike.Take(7).Select(Gen.Const).ToArray()).Sample(marker =>
        {
            Assert.Single(tokenizer.Encode(marker, parseSpecialTokens: true));
            Assert.True(tokenizer.Encode(marker, parseSpecialTokens: false).Length > 1);
        }, iter: 50, threads: 1);
    }
}
