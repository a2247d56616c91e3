using System.Text;
using System.Text.Json;
using CsCheck;
using SharpSeek.Inference.Tools;

namespace SharpSeek.Inference.Tests;

/// <summary>
/// Property tests of the schema grammar over random schemas (CsCheck): every value generated from a schema is
/// accepted whole, and whatever the grammar accepts after random byte mutations is valid under an independent
/// validator (JsonSchema.Net). The fixed-schema tests in <see cref="JsonSchemaGrammarTests"/> cover the same two
/// directions for one hand-written schema; these cover the shapes nobody wrote down.
/// </summary>
public sealed class JsonSchemaPropertyTests
{
    /// <summary>A random schema as JSON text, with a generator of compact JSON values it admits.</summary>
    private sealed record Shape(string Schema, Gen<string> Values);

    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static string Quote(string s) => JsonSerializer.Serialize(s, Relaxed);

    // Text the grammar can hold: printable ASCII, Latin-1, a few BMP scripts, and characters JSON must escape.
    private static readonly Gen<char> TextChar = Gen.Frequency(
        (6, Gen.Char['a', 'z']), (2, Gen.Char[' ', '~']), (1, Gen.Char['\u00c0', '\u00ff']),
        (1, Gen.Char['\u4e00', '\u4e20']), (1, Gen.OneOf(Gen.Const('"'), Gen.Const('\\'), Gen.Const('\n'), Gen.Const('\t'), Gen.Const('\u0001'))));

    private static Gen<string> Text(int min, int max) => TextChar.Array[min, max].Select(cs => new string(cs));

    private static readonly Gen<string> Name = Gen.Char['a', 'z'].Array[1, 6].Select(cs => new string(cs));

    private static readonly Gen<Shape> Scalar = Gen.OneOf(
        Gen.Int[0, 4].SelectMany(min => Gen.Int[min, 12].Select(max => new Shape(
            $$"""{"type":"string","minLength":{{min}},"maxLength":{{max}}}""", Text(min, max).Select(Quote)))),
        Gen.Const(new Shape("""{"type":"integer"}""", Gen.Long[-999_999_999_999, 999_999_999_999].Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture)))),
        Gen.Const(new Shape("""{"type":"number"}""", Gen.OneOf(
            Gen.Int[-99_999, 99_999].Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            Gen.Select(Gen.Int[-999, 999], Gen.Int[0, 9999], Gen.Int[-20, 20], (i, f, e) => $"{i}.{f}e{e}"),
            Gen.Select(Gen.Int[-999, 999], Gen.Int[0, 9999], (i, f) => $"{i}.{f}")))),
        Gen.Const(new Shape("""{"type":"boolean"}""", Gen.OneOf(Gen.Const("true"), Gen.Const("false")))),
        Gen.Const(new Shape("""{"type":"null","description":"nothing"}""", Gen.Const("null"))),
        Gen.OneOf<string>(Gen.Const("\"red\""), Gen.Const("12"), Gen.Const("true"), Gen.Const("null"), Gen.Const("[1,2]"), Gen.Const("{\"k\":\"v\"}"), Gen.Const("\"gr\\\"een\""))
            .Array[1, 5].Select(vs => vs.Distinct().ToArray())
            .Select(vs => new Shape($$"""{"enum":[{{string.Join(",", vs)}}]}""", Gen.OneOf(vs.Select(Gen.Const).ToArray()).Select(Compact))));

    /// <summary>Enum values are matched as the compiler serializes them: compact, with relaxed escaping.</summary>
    private static string Compact(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return JsonSerializer.Serialize(doc.RootElement, Relaxed);
    }

    private static readonly Gen<Shape> Shapes = Gen.Recursive<Shape>((depth, self) => depth >= 3 ? Scalar : Gen.Frequency(
        (4, Scalar),
        (1, Gen.Select(self, Gen.Int[0, 2], Gen.Int[0, 3], (item, min, extra) => new Shape(
            $$"""{"type":"array","items":{{item.Schema}},"minItems":{{min}},"maxItems":{{min + extra}}}""",
            item.Values.Array[min, min + extra].Select(vs => "[" + string.Join(",", vs) + "]")))),
        (2, Gen.Select(Name.Array[1, 4].Select(ns => ns.Distinct().ToArray()), self.Array[4], Gen.Bool.Array[4], (names, props, required) => Object(names, props, required)))));

    private static Shape Object(string[] names, Shape[] props, bool[] required)
    {
        var properties = string.Join(",", names.Select((n, i) => $"{Quote(n)}:{props[i].Schema}"));
        var requiredNames = names.Where((_, i) => required[i]).Select(Quote);
        string schema = $$"""{"type":"object","properties":{{{properties}}},"required":[{{string.Join(",", requiredNames)}}],"additionalProperties":false}""";
        // Required members always, optional ones by coin flip, in a shuffled order.
        var members = Gen.Select(Gen.Bool.Array[names.Length], Gen.Int.Array[names.Length], (present, order) =>
            names.Select((n, i) => (n, i)).Where(x => required[x.i] || present[x.i]).OrderBy(x => order[x.i]).Select(x => x.i).ToArray());
        var values = members.SelectMany(chosen => chosen.Length == 0
            ? Gen.Const("{}")
            : All(chosen.Select(i => props[i].Values.Select(v => $"{Quote(names[i])}:{v}"))).Select(parts => "{" + string.Join(",", parts) + "}"));
        return new Shape(schema, values);
    }

    /// <summary>One value from each generator, in order.</summary>
    private static Gen<string[]> All(IEnumerable<Gen<string>> gens) =>
        gens.Aggregate(Gen.Const(Array.Empty<string>()), (acc, g) => Gen.Select(acc, g, (a, v) => (string[])[.. a, v]));

    private static bool AcceptsWhole(JsonSchema schema, byte[] value)
    {
        var r = new JsonValueRecognizer(schema);
        return r.TryFeed(value) && r.IsComplete;
    }

    [Fact]
    public void Values_generated_from_a_schema_are_accepted_and_valid()
    {
        Shapes.SelectMany(s => s.Values.Select(v => (s.Schema, Value: v))).Sample(x =>
        {
            var schema = JsonSchema.Compile(x.Schema);
            Assert.True(AcceptsWhole(schema, Encoding.UTF8.GetBytes(x.Value)), $"grammar refused {x.Value} for {x.Schema}");
            using var doc = JsonDocument.Parse(x.Value);
            Assert.True(Json.Schema.JsonSchema.FromText(x.Schema).Evaluate(doc.RootElement).IsValid, $"JsonSchema.Net refused {x.Value} for {x.Schema}");
        }, iter: 2000, threads: 1);
    }

    [Fact]
    public void Mutants_the_grammar_accepts_are_valid_for_an_independent_validator()
    {
        byte[] alphabet = "{}[]\",:-+.0123456789eEtrufalsn\\ abcxyz"u8.ToArray();
        var mutation = Gen.Select(Gen.Int[0, 2], Gen.Int, Gen.Int[0, alphabet.Length - 1]).Array[1, 3];
        int accepted = 0;
        Gen.Select(Shapes.SelectMany(s => s.Values.Select(v => (s.Schema, Value: v))), mutation).Sample((x, edits) =>
        {
            var bytes = Encoding.UTF8.GetBytes(x.Value).ToList();
            foreach (var (kind, at, c) in edits)
            {
                if (bytes.Count == 0) break;
                int i = (int)((uint)at % (uint)bytes.Count);
                if (kind == 0) bytes[i] = alphabet[c];
                else if (kind == 1) bytes.RemoveAt(i);
                else bytes.Insert(i, alphabet[c]);
            }
            var schema = JsonSchema.Compile(x.Schema);
            byte[] mutant = bytes.ToArray();
            if (mutant.Length == 0 || !AcceptsWhole(schema, mutant)) return;
            Interlocked.Increment(ref accepted);
            using var doc = JsonDocument.Parse(mutant);
            Assert.True(Json.Schema.JsonSchema.FromText(x.Schema).Evaluate(doc.RootElement).IsValid,
                $"grammar accepted {Encoding.UTF8.GetString(mutant)} for {x.Schema}, JsonSchema.Net does not");
        }, iter: 5000, threads: 1);
        Assert.True(accepted > 200, $"only {accepted} mutants were accepted: the property would prove little");
    }
}
