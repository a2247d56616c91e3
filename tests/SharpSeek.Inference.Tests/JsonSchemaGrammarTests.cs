using System.Text;
using SharpSeek.Inference.Tools;

namespace SharpSeek.Inference.Tests;

/// <summary>The JSON Schema compiler and the byte-level grammar it drives.</summary>
public sealed class JsonSchemaGrammarTests
{
    private const string Weather = """
        {"type":"object","properties":{
          "city":{"type":"string","maxLength":12},
          "unit":{"enum":["celsius","fahrenheit"]},
          "days":{"type":"integer"},
          "scale":{"type":["number","null"]},
          "tags":{"type":"array","items":{"type":"string"},"maxItems":3},
          "where":{"type":"object","properties":{"lat":{"type":"number"},"lon":{"type":"number"}},"required":["lat","lon"],"additionalProperties":false},
          "ok":{"type":"boolean"},
          "kind":{"const":"forecast"}
        },"required":["city","unit"],"additionalProperties":false}
        """;

    // Index of the first byte the grammar refuses, or -1 when every byte is accepted; and whether the value is whole.
    private static (int FirstBad, bool Complete) Feed(JsonSchema schema, string text)
    {
        var r = new JsonValueRecognizer(schema);
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        for (int i = 0; i < bytes.Length; i++)
            if (!r.TryFeed(bytes.AsSpan(i, 1))) return (i, r.IsComplete);
        return (-1, r.IsComplete);
    }

    [Theory]
    [InlineData("""{"city":"Paris","unit":"celsius"}""")]
    [InlineData("""{"unit": "fahrenheit", "city": "Zürich", "days": -3, "scale": 2.5e+3}""")]
    [InlineData("""{"city":"","unit":"celsius","scale":null,"tags":["a","b\n\u00e9"],"ok":false}""")]
    [InlineData("""{"city":"x","unit":"celsius","where":{"lon":1.5,"lat":-0.25},"kind":"forecast","tags":[]}""")]
    public void Valid_documents_are_accepted_and_complete(string doc)
    {
        var (bad, complete) = Feed(JsonSchema.Compile(Weather), doc);
        Assert.Equal(-1, bad);
        Assert.True(complete);
    }

    [Theory]
    [InlineData("""{"city":"Paris"}""", 15)]                              // '}' before the required "unit"
    [InlineData("""{"city":"Paris","unit":"kelvin"}""", 24)]              // not an enum value
    [InlineData("""{"city":"Paris","town":"x"}""", 18)]                  // undeclared key (additionalProperties false)
    [InlineData("""{"city":"Paris","city":"x"}""", 17)]                  // a duplicate key: no unseen name starts with 'c'
    [InlineData("""{"city":12}""", 8)]                                   // wrong type
    [InlineData("""{"city":"x","unit":"celsius","days":1.5}""", 37)]     // an integer has no fraction
    [InlineData("""{"city":"0123456789abc","unit":"celsius"}""", 21)]    // longer than maxLength 12
    [InlineData("""{"city":"x","unit":"celsius","tags":["a","b","c","d"]}""", 48)] // more than maxItems 3
    [InlineData("""{"city":"x","unit":"celsius","where":{"lat":1}}""", 45)]        // nested required "lon"
    [InlineData("""{"city":"x","unit":"celsius","ok":tru}""", 37)]
    [InlineData("""{"city":"x","unit":"celsius","kind":"forecasts"}""", 45)]       // const
    [InlineData("""{"city":"\ud800","unit":"celsius"}""", 12)]           // a lone surrogate escape
    [InlineData("""{"city":"x"  ,"unit":"celsius"}""", 12)]              // two spaces
    [InlineData("""{"city":"x","unit":"celsius"} """, 29)]               // nothing after the value
    [InlineData("""[1]""", 0)]
    public void Invalid_documents_are_refused_at_the_first_bad_byte(string doc, int firstBad)
    {
        var (bad, _) = Feed(JsonSchema.Compile(Weather), doc);
        Assert.Equal(firstBad, bad);
    }

    [Fact]
    public void Invalid_utf8_in_a_string_is_refused()
    {
        var r = new JsonValueRecognizer(JsonSchema.Compile("""{"type":"object","properties":{"s":{"type":"string"}}}"""));
        Assert.True(r.TryFeed("{\"s\":\""u8));
        Assert.False(r.TryFeed([0xC0, 0x80]));     // overlong
        Assert.False(r.TryFeed([0xED, 0xA0, 0x80])); // an encoded surrogate
        Assert.True(r.TryFeed([0xE2, 0x82, 0xAC]));  // €
        Assert.False(r.TryFeed([0x80]));             // a stray continuation byte
        Assert.True(r.TryFeed("\"}"u8));
        Assert.True(r.IsComplete);
    }

    [Fact]
    public void Strings_are_bounded_by_default()
    {
        var r = new JsonValueRecognizer(JsonSchema.Compile("""{"type":"string"}"""));
        Assert.True(r.TryFeed("\""u8));
        for (int i = 0; i < JsonSchema.DefaultMaxStringLength; i++) Assert.True(r.TryFeed("a"u8));
        Assert.False(r.TryFeed("a"u8));
        Assert.False(r.TryFeed("\\n"u8));
        Assert.True(r.TryFeed("\""u8));
        Assert.True(r.IsComplete);
    }

    [Fact]
    public void Min_length_and_min_items_hold_the_value_open()
    {
        var s = JsonSchema.Compile("""{"type":"object","properties":{"a":{"type":"array","items":{"type":"string","minLength":2},"minItems":1}},"required":["a"]}""");
        Assert.Equal(6, Feed(s, """{"a":[]}""").FirstBad);
        Assert.Equal(8, Feed(s, """{"a":["x"]}""").FirstBad);
        Assert.Equal(-1, Feed(s, """{"a":["xy"]}""").FirstBad);
    }

    [Fact]
    public void Trying_a_token_that_pops_and_pushes_leaves_the_state_untouched()
    {
        var r = new JsonValueRecognizer(JsonSchema.Any);
        Assert.True(r.TryFeed("{\"a\":[{\"b\":[1"u8));
        Assert.True(r.CanFeed("]},{\"c\":[{\"d\":2}]}"u8));     // pops two levels, pushes three
        Assert.False(r.CanFeed("]},{\"c\":[{\"d\":2}]}]}}"u8)); // one bracket too many
        Assert.True(r.TryFeed("]}"u8));                        // the stack below is as it was
        Assert.True(r.TryFeed("]}"u8));
        Assert.True(r.IsComplete);
    }

    [Fact]
    public void Undeclared_members_are_bounded_even_while_optional_ones_are_missing()
    {
        var r = new JsonValueRecognizer(JsonSchema.Compile("""{"type":"object","properties":{"opt":{"type":"null"}},"additionalProperties":true}"""));
        Assert.True(r.TryFeed("{"u8));
        for (int i = 0; i < JsonSchema.MaxFreeMembers; i++)
            Assert.True(r.TryFeed(Encoding.UTF8.GetBytes((i > 0 ? "," : "") + $"\"k{i}\":{i}")));
        Assert.True(r.TryFeed(",\"o"u8));     // only the declared "opt" may still come
        Assert.False(r.CanFeed("x"u8));
        Assert.True(r.TryFeed("pt\":null}"u8));
        Assert.True(r.IsComplete);
        var deep = new StringBuilder();
        for (int i = 0; i < JsonSchema.MaxDepth; i++) deep.Append("{\"type\":\"array\",\"items\":");
        deep.Append("{\"type\":\"string\"}").Append('}', JsonSchema.MaxDepth);
        Assert.Throws<JsonSchemaException>(() => JsonSchema.Compile(deep.ToString()));
    }

    [Fact]
    public void Every_mutant_the_grammar_accepts_is_valid_for_an_independent_validator()
    {
        // Soundness, differentially: mutate valid documents at random; whatever the grammar still accepts as a whole
        // value must validate under JsonSchema.Net, and the unmutated documents must be accepted.
        var validator = Json.Schema.JsonSchema.FromText(Weather);
        var schema = JsonSchema.Compile(Weather);
        string[] seeds =
        [
            """{"city":"Paris","unit":"celsius"}""",
            """{"unit": "fahrenheit", "city": "Zürich", "days": -3, "scale": 2.5e+3}""",
            """{"city":"","unit":"celsius","scale":null,"tags":["a","b\n\u00e9"],"ok":false,"where":{"lat":1,"lon":-2.5}}""",
        ];
        byte[] alphabet = "{}[]\",: -+.0123456789eEtrufalsn\\ucityunitdaysscaletagswhereoklatlonkindforecastcelsiusfahrenheit"u8.ToArray();
        var rng = new Random(1234);
        int accepted = 0;
        for (int trial = 0; trial < 20000; trial++)
        {
            var doc = Encoding.UTF8.GetBytes(seeds[trial % seeds.Length]).ToList();
            for (int m = rng.Next(1, 4); m > 0 && doc.Count > 0; m--)
            {
                int at = rng.Next(doc.Count);
                switch (rng.Next(3))
                {
                    case 0: doc[at] = alphabet[rng.Next(alphabet.Length)]; break;
                    case 1: doc.RemoveAt(at); break;
                    default: doc.Insert(at, alphabet[rng.Next(alphabet.Length)]); break;
                }
            }
            var r = new JsonValueRecognizer(schema);
            if (!r.TryFeed(doc.ToArray()) || !r.IsComplete) continue;
            accepted++;
            string text = Encoding.UTF8.GetString(doc.ToArray());
            using var parsed = System.Text.Json.JsonDocument.Parse(text);
            Assert.True(validator.Evaluate(parsed.RootElement).IsValid, text);
        }
        Assert.True(accepted > 500, $"only {accepted} mutants were accepted: the test would prove little");
        foreach (string s in seeds) Assert.True(new JsonValueRecognizer(schema).TryFeed(Encoding.UTF8.GetBytes(s)));
    }

    [Fact]
    public void Response_format_json_object_still_accepts_any_object()
    {
        var (bad, complete) = Feed(JsonSchema.AnyObject, """{"a": [1, -2.5e+3, true, null, "x\u00e9"], "b": {"c": false}}""");
        Assert.Equal(-1, bad);
        Assert.True(complete);
        Assert.Equal(0, Feed(JsonSchema.AnyObject, "\"text\"").FirstBad);
    }

    [Theory]
    [InlineData("""{"type":"string","pattern":"^a"}""", "pattern", "pattern")]
    [InlineData("""{"type":"object","properties":{"n":{"type":"integer","minimum":0}}}""", "minimum", "properties.n.minimum")]
    [InlineData("""{"anyOf":[{"type":"string"},{"type":"null"}]}""", "anyOf", "anyOf")]
    [InlineData("""{"$ref":"#/definitions/x"}""", "$ref", "$ref")]
    [InlineData("""{"type":"object","properties":{"a":{"type":"array","items":{"oneOf":[]}}}}""", "oneOf", "properties.a.items.oneOf")]
    [InlineData("""{"type":"integr"}""", "integr", "type")]
    public void Unsupported_features_are_named(string schema, string named, string path)
    {
        var e = Assert.Throws<JsonSchemaException>(() => JsonSchema.Compile(schema));
        Assert.Contains(named, e.Message);
        Assert.Equal(path, e.Path);
    }

    [Fact]
    public void Strict_mode_requires_every_property_and_no_additional_ones()
    {
        const string loose = """{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},"required":["a"],"additionalProperties":false}""";
        var e = Assert.Throws<JsonSchemaException>(() => JsonSchema.Compile(loose, strict: true));
        Assert.Contains("'b'", e.Message);
        const string open = """{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}""";
        Assert.Contains("additionalProperties", Assert.Throws<JsonSchemaException>(() => JsonSchema.Compile(open, strict: true)).Message);
        const string nested = """{"type":"object","properties":{"o":{"type":"object","properties":{"x":{"type":"string"}},"required":[]}},"required":["o"],"additionalProperties":false}""";
        Assert.Equal("properties.o.additionalProperties", Assert.Throws<JsonSchemaException>(() => JsonSchema.Compile(nested, strict: true)).Path);
        JsonSchema.Compile("""{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false}""", strict: true);
    }

    [Fact]
    public void Tool_sets_reject_bad_names_and_unknown_choices_and_name_schema_errors()
    {
        var ok = new ToolDefinition("get_weather", "Weather", Weather);
        Assert.Equal("tools[0].function.name", Assert.Throws<ToolDefinitionException>(() => ToolSet.Create([ok with { Name = "bad name" }], ToolChoice.Auto)).Param);
        Assert.Equal("tools[1].function.name", Assert.Throws<ToolDefinitionException>(() => ToolSet.Create([ok, ok], ToolChoice.Auto)).Param);
        Assert.Equal("tool_choice", Assert.Throws<ToolDefinitionException>(() => ToolSet.Create([ok], ToolChoice.Function("nope"))).Param);
        var bad = ok with { ParametersJson = """{"type":"object","properties":{"q":{"type":"string","pattern":"x"}}}""" };
        var e = Assert.Throws<ToolDefinitionException>(() => ToolSet.Create([bad], ToolChoice.Required));
        Assert.Equal("tools[0].function.parameters.properties.q.pattern", e.Param);
        Assert.Contains("pattern", e.Message);
        // Not forced and not strict: the unsupported schema only loosens that tool's arguments.
        ToolSet.Create([bad], ToolChoice.Auto);
        Assert.Throws<ToolDefinitionException>(() => ToolSet.Create([bad with { Strict = true }], ToolChoice.Auto));
        Assert.Throws<ToolDefinitionException>(() => ToolSet.Create([ok with { ParametersJson = """{"type":"string"}""" }], ToolChoice.Auto));
    }
}
