using System.Text;
using SharpSeek.Tokenizer.PreTokenization;

namespace SharpSeek.Tokenizer.Tests;

/// <summary>The two BPE merge loops, streaming decode and the pre-tokenizer presets.</summary>
public sealed class EncodingInternalsTests
{
    [Fact]
    public void ScanAndHeapMergeLoopsProduceTheSameTokens()
    {
        BpeModel model = DeepSeekV3Tokenizer.Instance.Model;
        var rng = new Random(5);
        var inputs = new List<byte[]>();
        foreach (string text in MixedTextCorpus.ParityStrings([], seed: 3).Take(600))
            inputs.Add(Encoding.UTF8.GetBytes(text));
        for (int i = 0; i < 300; i++)
        {
            // Random bytes biased towards repeats, which exercise ties between equal pairs.
            var bytes = new byte[rng.Next(1, 300)];
            for (int j = 0; j < bytes.Length; j++)
                bytes[j] = rng.Next(3) == 0 ? (byte)'a' : (byte)rng.Next(32, 127);
            inputs.Add(bytes);
        }
        foreach (byte[] bytes in inputs)
        {
            var scan = new int[bytes.Length];
            var heap = new int[bytes.Length];
            int scanCount = model.EncodeBytes(bytes, scan, heapThreshold: int.MaxValue);
            int heapCount = model.EncodeBytes(bytes, heap, heapThreshold: 1);
            Assert.Equal(scan.AsSpan(0, scanCount).ToArray(), heap.AsSpan(0, heapCount).ToArray());
        }
    }

    [Fact]
    public void StreamingDecodeNeverSplitsACharacterAndAddsUpToTheFullDecode()
    {
        ByteLevelBpeTokenizer tokenizer = DeepSeekV3Tokenizer.Instance;
        var rng = new Random(11);
        var sequences = MixedTextCorpus.ParityStrings(DeepSeekV3Tokenizer.AddedTokenTexts, seed: 12)
            .Where(ReferenceParityTests.IsValidUnicode).Take(500).Select(t => tokenizer.Encode(t)).ToList();
        for (int i = 0; i < 100; i++) // arbitrary ids: invalid UTF-8 must come out as U+FFFD exactly like Decode
            sequences.Add(Enumerable.Range(0, rng.Next(1, 40)).Select(_ => rng.Next(0, tokenizer.VocabularySize)).ToArray());

        foreach (int[] ids in sequences)
        {
            TokenStreamDecoder stream = tokenizer.CreateStreamDecoder();
            var streamed = new StringBuilder();
            foreach (int id in ids)
            {
                string chunk = stream.Append(id);
                if (chunk.Length > 0)
                {
                    Assert.False(char.IsHighSurrogate(chunk[^1]), "a chunk ended inside a surrogate pair");
                    Assert.False(char.IsLowSurrogate(chunk[0]), "a chunk started inside a surrogate pair");
                }
                streamed.Append(chunk);
            }
            streamed.Append(stream.Flush());
            Assert.Equal(tokenizer.Decode(ids), streamed.ToString());
        }
    }

    [Fact]
    public void StreamingHoldsBackTheFirstBytesOfAMultiTokenCharacter()
    {
        ByteLevelBpeTokenizer tokenizer = DeepSeekV3Tokenizer.Instance;
        // U+1F600 is 4 UTF-8 bytes; feed them as four single-byte tokens.
        int[] byteIds = Encoding.UTF8.GetBytes("😀").Select(b => tokenizer.TokenToId(ByteLevelAlphabet.ToChar(b).ToString())!.Value).ToArray();
        TokenStreamDecoder stream = tokenizer.CreateStreamDecoder();
        Assert.Equal("", stream.Append(byteIds[0]));
        Assert.Equal("", stream.Append(byteIds[1]));
        Assert.Equal("", stream.Append(byteIds[2]));
        Assert.Equal("😀", stream.Append(byteIds[3]));
        Assert.Equal("", stream.Flush());

        TokenStreamDecoder cut = tokenizer.CreateStreamDecoder();
        Assert.Equal("", cut.Append(byteIds[0]));
        Assert.Equal("\uFFFD", cut.Flush());
    }

    [Fact]
    public void TheByteAlphabetIsGpt2sReversibleMapping()
    {
        Assert.Equal('Ġ', ByteLevelAlphabet.ToChar((byte)' '));
        Assert.Equal('Ċ', ByteLevelAlphabet.ToChar((byte)'\n'));
        Assert.Equal('a', ByteLevelAlphabet.ToChar((byte)'a'));
        Assert.Equal('ÿ', ByteLevelAlphabet.ToChar(0xFF));
        byte[] all = Enumerable.Range(0, 256).Select(b => (byte)b).ToArray();
        string text = ByteLevelAlphabet.Encode(all);
        Assert.Equal(256, text.Distinct().Count());
        var decoded = new List<byte>();
        ByteLevelAlphabet.Decode(text, decoded);
        Assert.Equal(all, decoded);
        Assert.Equal(-1, ByteLevelAlphabet.ToByte('｜'));
    }

    [Fact]
    public void ConcurrentEncodingGivesTheSameIdsAsSequential()
    {
        // A fresh instance so the shared word cache starts empty and threads race to fill it.
        ByteLevelBpeTokenizer tokenizer = ByteLevelBpeTokenizer.FromFile(RepositoryPaths.DeepSeekV3TokenizerJson);
        List<string> texts = MixedTextCorpus.Documents(200_000, seed: 13);
        int[][] expected = texts.Select(t => DeepSeekV3Tokenizer.Instance.Encode(t)).ToArray();
        var actual = new int[texts.Count][];
        Parallel.For(0, texts.Count, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => actual[i] = tokenizer.Encode(texts[i]));
        for (int i = 0; i < texts.Count; i++)
            Assert.Equal(expected[i], actual[i]);
    }

    [Theory]
    [InlineData("deepseek-v3", "Hello world 12345 你好abc", new[] { "Hello", " world", " ", "123", "45", " ", "你好", "abc" })]
    [InlineData("deepseek-v3", "example.com's\r\n\n  x", new[] { "example", ".com", "'s", "\r\n\n", " ", " x" })]
    [InlineData("deepseek-v3", "a\u200Db  ", new[] { "a", "\u200Db", "  " })]
    [InlineData("llama3", "I'm 12345 ok!!\n\n", new[] { "I", "'m", " ", "123", "45", " ok", "!!\n\n" })]
    [InlineData("llama3", "HE'LL (wait)", new[] { "HE", "'LL", " (", "wait", ")" })]
    [InlineData("qwen2", "x12 y", new[] { "x", "1", "2", " y" })]
    [InlineData("gpt2", "Hello  world's 42", new[] { "Hello", " ", " world", "'s", " 42" })]
    [InlineData("deepseek-llm", "Hello, 世界 123\nok  ", new[] { "Hello", ",", " ", "世界", " ", "123", "\n", "ok", "  " })]
    public void PresetsSplitAsTheirRegexesSay(string name, string text, string[] expected)
    {
        PreTokenizer preTokenizer = PreTokenizer.FromGgufName(name);
        Assert.Equal(expected, preTokenizer.SplitToStrings(text));
    }

    [Fact]
    public void SupplementaryPlaneLettersAndSymbolsAreWholeCodePoints()
    {
        // A .NET Regex would see two surrogates here; the pattern must see one letter / one symbol.
        Assert.Equal(["𠀀𠀁", " 😀😀"], PreTokenizer.DeepSeekV3.SplitToStrings("𠀀𠀁 😀😀"));
        Assert.Equal(["𝐀𝐁", "𝟎𝟏𝟐", "𝟑"], PreTokenizer.DeepSeekV3.SplitToStrings("𝐀𝐁𝟎𝟏𝟐𝟑"));
    }

    [Fact]
    public void PiecesCoverTheTextExactly()
    {
        foreach (string name in new[] { "deepseek-v3", "deepseek-llm", "llama3", "qwen2", "gpt2" })
        {
            PreTokenizer preTokenizer = PreTokenizer.FromGgufName(name);
            foreach (string text in MixedTextCorpus.ParityStrings(["<｜User｜>"], seed: 21).Take(400))
                Assert.Equal(text, string.Concat(preTokenizer.SplitToStrings(text)));
        }
    }

    [Fact]
    public void UnknownGgufPreTokenizerNamesAreRejected()
    {
        var error = Assert.Throws<NotSupportedException>(() => PreTokenizer.FromGgufName("tekken"));
        Assert.Contains("tekken", error.Message);
        Assert.Contains("deepseek-v3", error.Message);
    }
}
