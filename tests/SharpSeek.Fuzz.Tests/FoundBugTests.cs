using System.Text;
using SharpSeek.Inference.Tools;
using SharpSeek.Server.Api;
using SharpSeek.Tokenizer;

namespace SharpSeek.Fuzz.Tests;

/// <summary>
/// The bugs the fuzzer found, pinned with the error each input must now produce (the reproducers themselves are
/// replayed from fuzz/corpus/*/regression-* by <see cref="CorpusReplayTests"/>).
/// </summary>
public sealed class FoundBugTests
{
    private static byte[] BundledTokenizerJson() =>
        File.ReadAllBytes(Path.Combine(Path.GetDirectoryName(CorpusReplayTests.CorpusRoot)!, "..", "models", "sharpseek-r1-tiny", "tokenizer.json"));

    private static byte[] Replace(byte[] json, string from, string to)
    {
        string text = Encoding.UTF8.GetString(json);
        Assert.Contains(from, text);
        int at = text.IndexOf(from, StringComparison.Ordinal);
        return Encoding.UTF8.GetBytes(text[..at] + to + text[(at + from.Length)..]);
    }

    [Fact]
    public void Tokenizer_json_with_invalid_utf8_is_a_tokenizer_file_error()
    {
        // Reading the string threw InvalidOperationException out of FromFile (and the CLI's tokenize).
        byte[] json = BundledTokenizerJson();
        int at = json.AsSpan().IndexOf("<think>"u8) + 3;
        json[at] = 0xFF;
        var e = Assert.Throws<TokenizerFileException>(() => ByteLevelBpeTokenizer.FromHuggingFaceJson(json));
        Assert.Contains("not valid Unicode", e.Message);
    }

    [Fact]
    public void Tokenizer_json_with_a_lone_surrogate_escape_is_a_tokenizer_file_error() =>
        Assert.Throws<TokenizerFileException>(() => ByteLevelBpeTokenizer.FromHuggingFaceJson(Replace(BundledTokenizerJson(), "\"<think>\"", "\"<th\\ud800ink>\"")));

    [Fact]
    public void A_sparse_token_id_is_refused_before_the_id_table_is_allocated()
    {
        // One id of 200 million made the reader allocate a 1.6 GB table for a 10 KB file.
        byte[] json = Replace(BundledTokenizerJson(), "\"id\": 5,", "\"id\": 200000000,");
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<TokenizerFileException>(() => ByteLevelBpeTokenizer.FromHuggingFaceJson(json));
        Assert.Contains("dense", e.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64 << 20);
    }

    [Theory]
    [InlineData("[\"zero\"]", "non-negative integers")]
    [InlineData("[99999999999]", "non-negative integers")]
    [InlineData("[100000]", "not in the vocabulary")]
    public void Template_post_processor_ids_are_checked(string ids, string message)
    {
        string post = "{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"B\"}},{\"Sequence\":{\"id\":\"A\"}}],\"special_tokens\":{\"B\":{\"ids\":" + ids + "}}}";
        var tok = System.Text.Json.Nodes.JsonNode.Parse(BundledTokenizerJson())!;
        tok["post_processor"] = System.Text.Json.Nodes.JsonNode.Parse(post);
        byte[] json = Encoding.UTF8.GetBytes(tok.ToJsonString());
        var e = Assert.Throws<TokenizerFileException>(() => ByteLevelBpeTokenizer.FromHuggingFaceJson(json));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Encoding_a_byte_the_vocabulary_lacks_throws_the_documented_type()
    {
        // The bundled vocabulary has every byte; drop 'z' (and the merges that use it) to get one that does not.
        var tok = System.Text.Json.Nodes.JsonNode.Parse(BundledTokenizerJson())!;
        tok["model"]!["vocab"]!.AsObject().Remove("z");
        var merges = tok["model"]!["merges"]!.AsArray();
        for (int i = merges.Count - 1; i >= 0; i--)
            if (((string)merges[i]![0]! + (string)merges[i]![1]!).Contains('z')) merges.RemoveAt(i);
        foreach (var key in tok["model"]!["vocab"]!.AsObject().Select(kv => kv.Key).Where(k => k.Contains('z')).ToList())
            tok["model"]!["vocab"]!.AsObject().Remove(key);
        var tokenizer = ByteLevelBpeTokenizer.FromHuggingFaceJson(Encoding.UTF8.GetBytes(tok.ToJsonString()));
        Assert.Throws<TextNotEncodableException>(() => tokenizer.Encode("pizza"));
    }

    [Theory]
    [InlineData("{\"type\":\"\\ud800\"}")]
    [InlineData("{\"type\":\"object\",\"properties\":{\"a\":{}},\"required\":[\"\\udc00\"]}")]
    [InlineData("{\"type\":\"object\",\"properties\":{\"\\udc00\":{}}}")]
    public void A_schema_holding_text_that_is_not_unicode_is_a_schema_error(string schema) =>
        Assert.Throws<JsonSchemaException>(() => JsonSchema.Compile(schema));

    [Fact]
    public void A_schema_holding_invalid_utf8_is_a_schema_error()
    {
        using var doc = System.Text.Json.JsonDocument.Parse("{\"type\":\"object\",\"properties\":{\"ci\u00ffy\":{}}}"u8.ToArray().Select(b => b == 0xC3 ? (byte)0xFF : b).ToArray());
        Assert.Throws<JsonSchemaException>(() => JsonSchema.Compile(doc.RootElement));
    }

    [Theory]
    [InlineData("{\"model\":\"deepseek-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"\\ud800\"}}]}", "tools[0].function.name")]
    [InlineData("{\"model\":\"deepseek-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"tool_choice\":\"\\udfff\"}", "tool_choice")]
    [InlineData("{\"model\":\"deepseek-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\",\"\\udc00\":1}]}", "messages[0]")]
    [InlineData("{\"\\udc00\":1,\"model\":\"deepseek-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", null)]
    public void Chat_requests_with_unpaired_surrogates_in_names_or_tools_are_400(string body, string? param)
    {
        var e = Assert.Throws<ApiException>(() => ChatCompletionRequest.Parse(Encoding.UTF8.GetBytes(body), fillInTheMiddle: false));
        Assert.Equal(400, e.Status);
        Assert.Equal(param, e.Param);
    }

    [Fact]
    public void Request_bodies_that_are_not_utf8_are_400()
    {
        byte[] body = Encoding.UTF8.GetBytes("{\"model\":\"deepseek-chat\",\"max_tokens\":8,\"messages\":[{\"role\":\"user\",\"content\":\"h?\"}]}");
        body[Array.IndexOf(body, (byte)'?')] = 0xC0;
        Assert.Equal(400, Assert.Throws<ApiException>(() => ChatCompletionRequest.Parse(body, fillInTheMiddle: false)).Status);
        Assert.Equal(400, Assert.Throws<ApiException>(() => SharpSeek.Server.Api.Anthropic.AnthropicRequest.Parse(body, null)).Status);
    }

    [Theory]
    [InlineData("{\"model\":\"deepseek-chat\",\"max_tokens\":8,\"system\":\"\\ud800\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", "system")]
    [InlineData("{\"model\":\"deepseek-chat\",\"max_tokens\":8,\"messages\":[{\"role\":\"user\",\"content\":\"\\ud800\"}]}", "messages[0].content")]
    [InlineData("{\"model\":\"deepseek-chat\",\"max_tokens\":8,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"\\udc00\"}]}", "messages[1].content")]
    [InlineData("{\"model\":\"deepseek-chat\",\"max_tokens\":8,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stop_sequences\":[\"\\ud801\"]}", "stop_sequences[0]")]
    [InlineData("{\"model\":\"deepseek-chat\",\"\\udc00\":0,\"max_tokens\":8,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", null)]
    public void Anthropic_requests_with_unpaired_surrogates_are_400_naming_the_field(string body, string? param)
    {
        var e = Assert.Throws<ApiException>(() => SharpSeek.Server.Api.Anthropic.AnthropicRequest.Parse(Encoding.UTF8.GetBytes(body), null));
        Assert.Equal(400, e.Status);
        Assert.Equal(param, e.Param);
    }
}

/// <summary>Hand-made GGUF inputs for the cases a byte-level fuzzer is unlikely to reach (a whole array retyped).</summary>
public sealed class GgufVocabularyTypeTests
{
    private static byte[] VocabularyFile(string key, SharpSeek.Formats.Gguf.GgufValue value)
    {
        string path = Path.Combine(Path.GetTempPath(), $"sharpseek-fuzz-{Guid.NewGuid():N}.gguf");
        try
        {
            string[] tokens = Enumerable.Range(0, 256).Select(b => SharpSeek.Tokenizer.ByteLevelAlphabet.ToChar((byte)b).ToString()).ToArray();
            var writer = new SharpSeek.Formats.Gguf.GgufWriter()
                .AddMetadata("tokenizer.ggml.model", "gpt2")
                .AddMetadata("tokenizer.ggml.tokens", SharpSeek.Formats.Gguf.GgufArray.Of(tokens));
            writer.AddMetadata(key, value);
            writer.Write(path);
            return File.ReadAllBytes(path);
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [InlineData("strings")]
    [InlineData("nested")]
    [InlineData("floats")]
    public void A_token_type_array_of_the_wrong_type_is_a_clean_rejection(string kind)
    {
        var types = kind switch
        {
            "strings" => SharpSeek.Formats.Gguf.GgufArray.Of(Enumerable.Repeat("one", 256).ToArray()),
            "nested" => SharpSeek.Formats.Gguf.GgufArray.Of(Enumerable.Repeat(SharpSeek.Formats.Gguf.GgufArray.Of(new[] { 1 }), 256).ToArray()),
            _ => SharpSeek.Formats.Gguf.GgufArray.Of(Enumerable.Repeat(1.5f, 256).ToArray()),
        };
        FuzzHarness.Execute(FuzzTargets.Find("gguf")!, VocabularyFile("tokenizer.ggml.token_type", types));
    }

    [Fact]
    public void A_bos_id_of_the_wrong_type_is_a_clean_rejection()
    {
        FuzzHarness.Execute(FuzzTargets.Find("gguf")!, VocabularyFile("tokenizer.ggml.bos_token_id", "zero"));
        FuzzHarness.Execute(FuzzTargets.Find("gguf")!, VocabularyFile("tokenizer.ggml.bos_token_id", ulong.MaxValue));
        FuzzHarness.Execute(FuzzTargets.Find("gguf")!, VocabularyFile("tokenizer.ggml.add_bos_token", 1));
    }
}

/// <summary>tokenizer_config.json fields read as strings where the file holds another JSON type.</summary>
public sealed class TokenizerConfigTypeTests
{
    [Theory]
    [InlineData("""{"additional_special_tokens":[{"content":5}]}""")]
    [InlineData("""{"chat_template":[{"name":7,"template":"x"}]}""")]
    public void A_config_value_of_the_wrong_type_is_a_tokenizer_file_error(string config)
    {
        string dir = Path.Combine(Path.GetDirectoryName(CorpusReplayTests.CorpusRoot)!, "..", "models", "sharpseek-r1-tiny");
        byte[] json = File.ReadAllBytes(Path.Combine(dir, "tokenizer.json"));
        Assert.Throws<TokenizerFileException>(() => ByteLevelBpeTokenizer.FromHuggingFaceJson(json, Encoding.UTF8.GetBytes(config)));
    }
}
