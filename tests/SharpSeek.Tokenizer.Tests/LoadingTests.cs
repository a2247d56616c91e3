using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SharpSeek.Tokenizer.Tests;

/// <summary>Loading from GGUF arrays, and clear failures for malformed or unsupported tokenizer files.</summary>
public sealed class LoadingTests
{
    /// <summary>A minimal valid byte-level tokenizer.json: the 256 byte tokens, two merges and one special token.</summary>
    private static JsonObject MinimalTokenizerJson()
    {
        var vocab = new JsonObject();
        for (int b = 0; b < 256; b++)
            vocab[ByteLevelAlphabet.ToChar((byte)b).ToString()] = b;
        vocab["he"] = 256;
        vocab["hel"] = 257;
        return new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new JsonArray(new JsonObject { ["id"] = 258, ["content"] = "<eos>", ["special"] = true }),
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(
                    new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = "\\p{N}{1,3}" }, ["behavior"] = "Isolated", ["invert"] = false },
                    new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["use_regex"] = false }),
            },
            ["post_processor"] = new JsonObject { ["type"] = "ByteLevel" },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel" },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["vocab"] = vocab,
                ["merges"] = new JsonArray("h e", new JsonArray("he", "l")),
            },
        };
    }

    private static ByteLevelBpeTokenizer Load(JsonNode json, string? config = null) =>
        ByteLevelBpeTokenizer.FromHuggingFaceJson(Encoding.UTF8.GetBytes(json.ToJsonString()),
            config is null ? default : Encoding.UTF8.GetBytes(config));

    [Fact]
    public void TheMinimalFileLoadsAndMerges()
    {
        ByteLevelBpeTokenizer tokenizer = Load(MinimalTokenizerJson());
        Assert.Equal(259, tokenizer.VocabularySize);
        Assert.Equal([257, (int)'l', (int)'o', 258], tokenizer.Encode("hello<eos>"));
        Assert.Equal("hello<eos>", tokenizer.Decode(tokenizer.Encode("hello<eos>")));
    }

    public static TheoryData<string, string> MalformedFiles() => new()
    {
        { "{not json", "not valid JSON" },
        { "[1,2]", "$ the file must hold a JSON object" },
        { Mutate(j => j.Remove("model")), "$.model is missing" },
        { Mutate(j => j["model"]!["type"] = "WordPiece"), "only byte-level BPE" },
        { Mutate(j => j["model"]!["byte_fallback"] = true), "byte_fallback" },
        { Mutate(j => j["model"]!["vocab"] = new JsonArray()), "$.model.vocab must be an object, got an array" },
        { Mutate(j => j["model"]!["vocab"]!["x"] = "seven"), "the id of 'x' must be a non-negative integer" },
        { Mutate(j => j["model"]!["vocab"]!["zz"] = 5), "share id 5" },
        { Mutate(j => j["model"]!["merges"] = new JsonArray("hel")), "'hel' is not two tokens separated by one space" },
        { Mutate(j => j["model"]!["merges"] = new JsonArray(new JsonArray("h"))), "$.model.merges[0] must be" },
        { Mutate(j => j["model"]!["merges"] = new JsonArray("h e", "he q")), "merge #1 ('he' + 'q') refers to 'heq'" },
        { Mutate(j => j["normalizer"] = new JsonObject { ["type"] = "Lowercase" }), "normalizer 'Lowercase'" },
        { Mutate(j => j["pre_tokenizer"] = new JsonObject { ["type"] = "Metaspace" }), "pre-tokenizer 'Metaspace'" },
        { Mutate(j => j["pre_tokenizer"]!["pretokenizers"]![0]!["pattern"]!["Regex"] = "[a-z]+"), "not one of the supported pre-tokenizer patterns" },
        { Mutate(j => j["pre_tokenizer"]!["pretokenizers"]![0]!["behavior"] = "Removed"), "only Isolated splits" },
        { Mutate(j => j["pre_tokenizer"]!["pretokenizers"]!.AsArray().RemoveAt(1)), "has no ByteLevel step" },
        { Mutate(j => j["pre_tokenizer"]!["pretokenizers"]![1]!["add_prefix_space"] = true), "add_prefix_space is true" },
        { Mutate(j => j["decoder"] = null), "$.decoder is missing" },
        { Mutate(j => j["decoder"] = new JsonObject { ["type"] = "WordPiece" }), "only a ByteLevel decoder" },
        { Mutate(j => j["added_tokens"]![0]!["content"] = ""), "$.added_tokens[0].content must not be empty" },
        { Mutate(j => j["added_tokens"]![0]!["id"] = -3), "$.added_tokens[0].id must be a non-negative integer" },
        { Mutate(j => j["post_processor"] = new JsonObject { ["type"] = "BertProcessing" }), "post-processor 'BertProcessing'" },
    };

    private static string Mutate(Action<JsonObject> change)
    {
        JsonObject json = MinimalTokenizerJson();
        change(json);
        return json.ToJsonString();
    }

    [Theory]
    [MemberData(nameof(MalformedFiles))]
    public void MalformedTokenizerJsonFailsWithAMessageNamingTheProblem(string json, string expectedMessage)
    {
        var error = Assert.Throws<TokenizerFileException>(() => ByteLevelBpeTokenizer.FromHuggingFaceJson(Encoding.UTF8.GetBytes(json)));
        Assert.Contains(expectedMessage, error.Message);
    }

    [Theory]
    [InlineData("{\"bos_token\": \"<nope>\"}", "$.bos_token names '<nope>'")]
    [InlineData("{\"add_bos_token\": true}", "$.add_bos_token is true but no bos_token is defined")]
    [InlineData("{\"add_bos_token\": \"yes\"}", "$.add_bos_token must be true or false")]
    [InlineData("{\"eos_token\": 7}", "$.eos_token must be a string or an object")]
    [InlineData("{\"chat_template\": 3}", "$.chat_template must be a string")]
    [InlineData("[]", "tokenizer_config.json: $ the file must hold a JSON object")]
    public void MalformedTokenizerConfigFailsWithAMessageNamingTheProblem(string config, string expectedMessage)
    {
        var error = Assert.Throws<TokenizerFileException>(() => Load(MinimalTokenizerJson(), config));
        Assert.Contains(expectedMessage, error.Message);
    }

    [Fact]
    public void ConfigSpecialTokensAndTemplateProcessingDecideWhatAddSpecialTokensAdds()
    {
        ByteLevelBpeTokenizer llama = Load(MinimalTokenizerJson(), "{\"tokenizer_class\": \"LlamaTokenizerFast\", \"bos_token\": \"<eos>\"}");
        Assert.Equal([258, (int)'a'], llama.Encode("a", addSpecialTokens: true));

        JsonObject withTemplate = MinimalTokenizerJson();
        withTemplate["post_processor"] = JsonNode.Parse("""
            {"type": "TemplateProcessing", "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "<eos>", "type_id": 0}}],
             "pair": [], "special_tokens": {"<eos>": {"id": "<eos>", "ids": [258], "tokens": ["<eos>"]}}}
            """);
        ByteLevelBpeTokenizer templated = Load(withTemplate);
        Assert.Equal([(int)'a', 258], templated.Encode("a", addSpecialTokens: true));
        Assert.Equal([(int)'a'], templated.Encode("a"));
    }

    [Fact]
    public void AnNfcNormalizerComposesBeforeSplittingOrIsRefusedWhenTheRuntimeCannotNormalize()
    {
        JsonObject json = MinimalTokenizerJson();
        json["normalizer"] = JsonNode.Parse("{\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"NFC\"}]}");
        if (!HuggingFaceTokenizerReader.UnicodeNormalizationWorks)
        {
            // Invariant-globalization processes (this repository's default) cannot normalize: refuse rather than
            // silently tokenize unnormalized text differently from the reference.
            var error = Assert.Throws<NotSupportedException>(() => Load(json));
            Assert.Contains("NFC", error.Message);
            Assert.Contains("InvariantGlobalization", error.Message);
            return;
        }
        ByteLevelBpeTokenizer tokenizer = Load(json);
        Assert.Equal(tokenizer.Encode("caf\u00E9"), tokenizer.Encode("cafe\u0301"));
        Assert.Equal("caf\u00E9", tokenizer.Decode(tokenizer.Encode("cafe\u0301")));
    }

    [Fact]
    public void MissingFilesAreReportedByPath()
    {
        var error = Assert.Throws<FileNotFoundException>(() => ByteLevelBpeTokenizer.FromFile("/nonexistent/tokenizer.json"));
        Assert.Contains("/nonexistent/tokenizer.json", error.Message);
    }

    /// <summary>GGUF arrays built the way llama.cpp's converter writes them for DeepSeek-V3.</summary>
    private static (string[] Tokens, string[] Merges, int[] Types) DeepSeekGgufArrays()
    {
        ByteLevelBpeTokenizer hf = DeepSeekV3Tokenizer.Instance;
        var tokens = new string[hf.VocabularySize];
        var types = new int[hf.VocabularySize];
        for (int id = 0; id < tokens.Length; id++)
        {
            tokens[id] = hf.IdToToken(id);
            types[id] = 1;
        }
        foreach (AddedToken added in hf.AddedTokens)
            types[added.Id] = added.Special ? 3 : 4;
        using JsonDocument json = JsonDocument.Parse(File.ReadAllBytes(RepositoryPaths.DeepSeekV3TokenizerJson));
        string[] merges = json.RootElement.GetProperty("model").GetProperty("merges").EnumerateArray()
            .Select(m => m.ValueKind == JsonValueKind.String ? m.GetString()! : m[0].GetString() + " " + m[1].GetString()).ToArray();
        return (tokens, merges, types);
    }

    [Fact]
    public void GgufArraysGiveTheSameTokenizerAsTokenizerJson()
    {
        var (tokens, merges, types) = DeepSeekGgufArrays();
        ByteLevelBpeTokenizer gguf = ByteLevelBpeTokenizer.FromGguf("gpt2", "deepseek-v3", tokens, merges, types,
            bosTokenId: 0, eosTokenId: 1, addBosToken: true, chatTemplate: DeepSeekV3Tokenizer.Instance.ChatTemplateSource);
        ByteLevelBpeTokenizer hf = DeepSeekV3Tokenizer.Instance;
        foreach (string text in MixedTextCorpus.ParityStrings(DeepSeekV3Tokenizer.AddedTokenTexts, seed: 31).Take(500))
        {
            int[] ids = gguf.Encode(text, addSpecialTokens: true);
            Assert.Equal(hf.Encode(text, addSpecialTokens: true), ids);
            Assert.Equal(hf.Decode(ids), gguf.Decode(ids));
        }
        Assert.Equal(Chat.ChatTemplateKind.DeepSeekV3, gguf.ChatTemplate!.Kind);
    }

    [Fact]
    public void InconsistentGgufArraysAreRejected()
    {
        string[] tokens = Enumerable.Range(0, 256).Select(b => ByteLevelAlphabet.ToChar((byte)b).ToString()).Append("he").ToArray();
        string[] merges = ["h e"];
        Assert.Contains("only 'gpt2'", Assert.Throws<NotSupportedException>(() => ByteLevelBpeTokenizer.FromGguf("llama", "deepseek-v3", tokens, merges)).Message);
        Assert.Contains("'mystery'", Assert.Throws<NotSupportedException>(() => ByteLevelBpeTokenizer.FromGguf("gpt2", "mystery", tokens, merges)).Message);
        Assert.Contains("token_type has 3 entries", Assert.Throws<TokenizerFileException>(() =>
            ByteLevelBpeTokenizer.FromGguf("gpt2", "deepseek-v3", tokens, merges, tokenTypes: [1, 1, 1])).Message);
        Assert.Contains("merge 0 'he'", Assert.Throws<TokenizerFileException>(() =>
            ByteLevelBpeTokenizer.FromGguf("gpt2", "deepseek-v3", tokens, ["he"])).Message);
        Assert.Contains("refers to 'hx'", Assert.Throws<TokenizerFileException>(() =>
            ByteLevelBpeTokenizer.FromGguf("gpt2", "deepseek-v3", tokens, ["h x"])).Message);
        Assert.Contains("bos_token_id is 999", Assert.Throws<TokenizerFileException>(() =>
            ByteLevelBpeTokenizer.FromGguf("gpt2", "deepseek-v3", tokens, merges, bosTokenId: 999)).Message);
        Assert.Contains("unknown token type 9", Assert.Throws<TokenizerFileException>(() =>
            ByteLevelBpeTokenizer.FromGguf("gpt2", "deepseek-v3", tokens, merges, tokenTypes: Enumerable.Repeat(9, tokens.Length).ToArray())).Message);
        Assert.Contains("add_bos_token is true but there is no bos_token_id", Assert.Throws<TokenizerFileException>(() =>
            ByteLevelBpeTokenizer.FromGguf("gpt2", "deepseek-v3", tokens, merges, addBosToken: true)).Message);
    }
}
