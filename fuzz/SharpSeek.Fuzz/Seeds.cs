using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using SharpSeek.Checkpoints.Gguf;
using SharpSeek.Formats.Gguf;
using SharpSeek.Formats.Safetensors;
using SharpSeek.Fuzz.Targets;
using SharpSeek.Inference;
using SharpSeek.Model;
using SharpSeek.Tensors;

namespace SharpSeek.Fuzz;

/// <summary>
/// Writes the seed corpus: small valid inputs for every target, made with the repository's own writers and the
/// bundled model's tokenizer, so the fuzzer starts from files the readers accept and mutates inwards from there.
/// The seeds are committed (fuzz/corpus); rerun <c>SharpSeek.Fuzz seeds fuzz/corpus</c> after a format change.
/// </summary>
internal static class Seeds
{
    public static void WriteAll(string corpus)
    {
        Gguf(Dir(corpus, "gguf"));
        Safetensors(Dir(corpus, "safetensors"));
        Tokenizer(Dir(corpus, "tokenizer"));
        ChatRequests(Dir(corpus, "chat-request"));
        AnthropicRequests(Dir(corpus, "anthropic-request"));
        ContextBlocks(Dir(corpus, "context-block"));
        JsonSchemas(Dir(corpus, "json-schema"));
        foreach (var t in FuzzTargets.All) Console.WriteLine($"{t.Name}: {Directory.GetFiles(Path.Combine(corpus, t.Name)).Length} seeds");
    }

    private static string Dir(string corpus, string target)
    {
        string dir = Path.Combine(corpus, target);
        Directory.CreateDirectory(dir);
        // Only generated seeds are replaced; regression inputs kept beside them (regression-*) stay.
        foreach (var f in Directory.GetFiles(dir, "seed-*")) File.Delete(f);
        return dir;
    }

    private static Tensor Values(int count, params int[] shape) => Tensor.FromArray(Enumerable.Range(0, count).Select(i => i * 0.25f - 1).ToArray(), shape);

    private static void Gguf(string dir)
    {
        // A vocabulary-only file: the bundled tokenizer as tokenizer.ggml.* entries, plus two small tensors.
        var tok = JsonNode.Parse(Resource("tokenizer.json"))!;
        var vocab = tok["model"]!["vocab"]!.AsObject().OrderBy(kv => (int)kv.Value!).Select(kv => kv.Key).ToList();
        foreach (var added in tok["added_tokens"]!.AsArray())
        {
            int id = (int)added!["id"]!;
            while (vocab.Count <= id) vocab.Add($"[UNUSED{vocab.Count}]");
            vocab[id] = (string)added["content"]!;
        }
        var merges = tok["model"]!["merges"]!.AsArray().Select(m => (string)m![0]! + " " + (string)m[1]!).ToArray();
        var types = vocab.Select((_, i) => i < 16 ? 3 : 1).ToArray();
        new GgufWriter()
            .AddMetadata("general.architecture", "llama")
            .AddMetadata("general.name", "fuzz seed")
            .AddMetadata("tokenizer.ggml.model", "gpt2")
            .AddMetadata("tokenizer.ggml.pre", "deepseek-v3")
            .AddMetadata("tokenizer.ggml.tokens", GgufArray.Of(vocab.ToArray()))
            .AddMetadata("tokenizer.ggml.token_type", GgufArray.Of(types))
            .AddMetadata("tokenizer.ggml.merges", GgufArray.Of(merges))
            .AddMetadata("tokenizer.ggml.bos_token_id", 0u)
            .AddMetadata("tokenizer.ggml.eos_token_id", 1u)
            .AddMetadata("tokenizer.ggml.add_bos_token", true)
            .AddTensor("a.weight", Values(6, 2, 3))
            .AddTensor("b.bias", Values(3, 3))
            .Write(Path.Combine(dir, "seed-vocabulary.gguf"));

        // A model-metadata file: a tiny DeepSeek-V3 shape as llama.cpp's deepseek2 keys, with its embedding tensor.
        var config = ModelPresets.TinyDeepSeekV3 with { VocabSize = 4, HiddenSize = 32 };
        new GgufWriter()
            .AddMetadata(GgufModelMetadata.Write(config, mtpLayers: 1))
            .AddTensor("token_embd.weight", Values(4 * 32, 4, 32))
            .Write(Path.Combine(dir, "seed-deepseek2.gguf"));

        // Every metadata value type, nested arrays and a custom alignment.
        new GgufWriter { Version = 2 }
            .AddMetadata(GgufFile.AlignmentKey, 64u)
            .AddMetadata("u8", (byte)1).AddMetadata("i8", (sbyte)-1).AddMetadata("u16", (ushort)2).AddMetadata("i16", (short)-2)
            .AddMetadata("u32", 3u).AddMetadata("i32", -3).AddMetadata("f32", 1.5f).AddMetadata("bool", true)
            .AddMetadata("str", "text ü").AddMetadata("u64", 4ul).AddMetadata("i64", -4L).AddMetadata("f64", 2.5)
            .AddMetadata("arr.i32", GgufArray.Of(new[] { 1, 2, 3 }))
            .AddMetadata("arr.str", GgufArray.Of(new[] { "x", "yz" }))
            .AddMetadata("arr.nested", GgufArray.Of(new[] { GgufArray.Of(new[] { 1f, 2f }), GgufArray.Of(new[] { 3f }) }))
            .AddTensor("t", Values(4, 4))
            .Write(Path.Combine(dir, "seed-value-types.gguf"));
    }

    private static void Safetensors(string dir)
    {
        var w = new SafetensorsWriter();
        w.Metadata["format"] = "pt";
        w.AddTensor("model.embed_tokens.weight", Values(8, 2, 4));
        w.AddTensor("model.norm.weight", Values(4, 4));
        w.AddTensor("scalar", Values(1, 1));
        w.Write(Path.Combine(dir, "seed-three-tensors.safetensors"));

        // Hand-written headers: dtypes we do not hold, an empty tensor, a zero-size shape.
        Raw(dir, "seed-dtypes.safetensors",
            """{"__metadata__":{"a":"b"},"x":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]},"y":{"dtype":"I8","shape":[3],"data_offsets":[4,7]},"z":{"dtype":"F32","shape":[0,5],"data_offsets":[7,7]}}""",
            new byte[7]);
    }

    private static void Raw(string dir, string name, string header, byte[] data)
    {
        byte[] h = Encoding.UTF8.GetBytes(header);
        var file = new byte[8 + h.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)h.Length);
        h.CopyTo(file, 8);
        data.CopyTo(file, 8 + h.Length);
        File.WriteAllBytes(Path.Combine(dir, name), file);
    }

    private static void Tokenizer(string dir)
    {
        // The bundled tokenizer, compacted; then with its config after a NUL; then a variant using the other supported forms.
        var tok = JsonNode.Parse(Resource("tokenizer.json"))!;
        byte[] compact = Encoding.UTF8.GetBytes(tok.ToJsonString());
        File.WriteAllBytes(Path.Combine(dir, "seed-bundled.json"), compact);
        byte[] config = Encoding.UTF8.GetBytes(JsonNode.Parse(Resource("tokenizer_config.json"))!.ToJsonString());
        File.WriteAllBytes(Path.Combine(dir, "seed-bundled-with-config.bin"), [.. compact, 0, .. config]);

        var variant = JsonNode.Parse(compact)!;
        var merges = variant["model"]!["merges"]!.AsArray();
        var asStrings = new JsonArray(merges.Take(40).Select(m => (JsonNode)JsonValue.Create((string)m![0]! + " " + (string)m[1]!)!).ToArray());
        variant["model"]!["merges"] = asStrings;
        variant["pre_tokenizer"] = JsonNode.Parse("""{"type":"Sequence","pretokenizers":[{"type":"Digits","individual_digits":true},{"type":"ByteLevel","add_prefix_space":false,"use_regex":true}]}""");
        variant["post_processor"] = JsonNode.Parse("""{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<｜begin▁of▁sentence｜>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],"special_tokens":{"<｜begin▁of▁sentence｜>":{"id":"<｜begin▁of▁sentence｜>","ids":[0]}}}""");
        variant["decoder"] = JsonNode.Parse("""{"type":"Sequence","decoders":[{"type":"ByteLevel"}]}""");
        string smallConfig = """{"bos_token":{"content":"<｜begin▁of▁sentence｜>"},"eos_token":"<｜end▁of▁sentence｜>","add_bos_token":false,"additional_special_tokens":["<think>",{"content":"</think>"}],"tokenizer_class":"LlamaTokenizerFast","chat_template":[{"name":"default","template":"{{ bos_token }}"}]}""";
        File.WriteAllBytes(Path.Combine(dir, "seed-variant.bin"), [.. Encoding.UTF8.GetBytes(variant.ToJsonString()), 0, .. Encoding.UTF8.GetBytes(smallConfig)]);
    }

    private static void ChatRequests(string dir)
    {
        string[] bodies =
        [
            """{"model":"deepseek-chat","messages":[{"role":"user","content":"Hello"}]}""",
            """{"model":"deepseek-reasoner","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"2+2?"}]}],"stream":true,"stream_options":{"include_usage":true},"max_tokens":64,"reasoning_effort":"high"}""",
            """{"model":"sharpseek-r1-tiny","messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hel","prefix":true}],"temperature":0.7,"top_p":0.9,"top_k":40,"frequency_penalty":0.1,"presence_penalty":-0.1,"seed":7,"stop":["\n\n","END"],"logprobs":true,"top_logprobs":3,"n":1,"thinking":{"type":"disabled"}}""",
            """{"model":"deepseek-chat","messages":[{"role":"user","content":"Weather in Paris?"},{"role":"assistant","content":"","tool_calls":[{"id":"c1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},{"role":"tool","tool_call_id":"c1","content":"sunny"}],"tools":[{"type":"function","function":{"name":"get_weather","description":"Current weather","parameters":{"type":"object","properties":{"city":{"type":"string","maxLength":40},"unit":{"enum":["c","f"]}},"required":["city"],"additionalProperties":false},"strict":true}}],"tool_choice":{"type":"function","function":{"name":"get_weather"}}}""",
            """{"model":"deepseek-chat","messages":[{"role":"user","content":"List two colours as JSON."}],"response_format":{"type":"json_object"},"max_completion_tokens":32,"ignore_eos":false}""",
            """{"model":"deepseek-chat","prompt":"def add(a, b):\n    ","suffix":"\n    return c","max_tokens":16,"echo":true,"logprobs":2,"stop":"\n\n"}""",
        ];
        for (int i = 0; i < bodies.Length; i++) File.WriteAllText(Path.Combine(dir, $"seed-{i}.json"), bodies[i]);
    }

    private static void AnthropicRequests(string dir)
    {
        string[] bodies =
        [
            """{"model":"claude-sonnet-4","max_tokens":256,"messages":[{"role":"user","content":"Hello"}]}""",
            """{"model":"deepseek-reasoner","max_tokens":4096,"system":[{"type":"text","text":"Be brief."}],"thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"user","content":[{"type":"text","text":"2+2?"}]}],"stream":true,"stop_sequences":["END"]}""",
            """{"model":"deepseek-chat","max_tokens":128,"temperature":0.5,"top_p":0.9,"top_k":20,"tools":[{"name":"get_weather","description":"Current weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}],"tool_choice":{"type":"tool","name":"get_weather"},"messages":[{"role":"user","content":"Weather in Paris?"},{"role":"assistant","content":[{"type":"thinking","thinking":"call it","signature":"x"},{"type":"text","text":"Checking."},{"type":"tool_use","id":"t1","name":"get_weather","input":{"city":"Paris"}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"sunny"}]},{"type":"text","text":"Thanks"}]}]}""",
            """{"model":"sharpseek-r1-tiny","max_tokens":32,"system":"You are terse.","messages":[{"role":"user","content":"Say hi"},{"role":"assistant","content":"Hi"}],"tool_choice":{"type":"none"},"metadata":{"user_id":"u1"}}""",
        ];
        for (int i = 0; i < bodies.Length; i++) File.WriteAllText(Path.Combine(dir, $"seed-{i}.json"), bodies[i]);
    }

    private static void ContextBlocks(string dir)
    {
        var layout = ContextBlockTarget.Layout;
        var data = new byte[ContextCache.BlockFileHeaderBytes + layout.PageBytes];
        BinaryPrimitives.WriteUInt32LittleEndian(data, ContextCache.FileMagic);
        BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(4), ContextCache.FileVersion);
        BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(8), layout.Layers);
        BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(12), layout.KeyRowElements);
        BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(16), layout.ValueRowElements);
        BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(20), ContextCache.BlockTokens);
        BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(24), layout.Type);
        BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(28), 1234);
        BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(32), 1);
        for (int i = 0; i < ContextCache.BlockTokens; i++) BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(68 + i * 4), ContextBlockTarget.Tokens[i]);
        for (int i = ContextCache.BlockFileHeaderBytes; i < data.Length; i++) data[i] = (byte)(i * 31);
        ContextBlockTarget.FixChecksum(data);
        File.WriteAllBytes(Path.Combine(dir, "seed-block.kvb"), data);
        File.WriteAllBytes(Path.Combine(dir, "seed-header-only.kvb"), data[..ContextCache.BlockFileHeaderBytes]);
    }

    private static void JsonSchemas(string dir)
    {
        (string Schema, string Value)[] pairs =
        [
            ("""{"type":"object","properties":{"city":{"type":"string","minLength":1,"maxLength":20},"days":{"type":"integer"}},"required":["city","days"],"additionalProperties":false}""", """{"city":"Paris","days":3}"""),
            ("""{"type":"array","items":{"type":["number","null"]},"minItems":1,"maxItems":4}""", """[1.5e3, null, -0]"""),
            ("""{"enum":["red","green",{"rgb":[1,2,3]},null,true,12]}""", """{"rgb":[1,2,3]}"""),
            ("""{"type":"object","properties":{"tags":{"type":"array","items":{"const":"x"}},"meta":{"type":"object","additionalProperties":{"type":"boolean"}}},"description":"annotated","title":"t"}""", """{"meta":{"a":true},"tags":["x"]}"""),
            ("""{"type":"object","additionalProperties":true}""", """{"k":[{"n":"\u00e9\ud83d\ude00"}],"z":false}"""),
            ("true", """ "any" """),
        ];
        for (int i = 0; i < pairs.Length; i++)
            File.WriteAllBytes(Path.Combine(dir, $"seed-{i}.bin"), [.. Encoding.UTF8.GetBytes(pairs[i].Schema), 0, .. Encoding.UTF8.GetBytes(pairs[i].Value)]);
    }

    private static byte[] Resource(string name)
    {
        using var stream = typeof(Seeds).Assembly.GetManifestResourceStream(name)!;
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
