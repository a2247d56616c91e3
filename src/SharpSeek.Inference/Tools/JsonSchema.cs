using System.Text;
using System.Text.Json;

namespace SharpSeek.Inference.Tools;

/// <summary>The JSON types a schema node admits (JSON Schema's <c>type</c>; <see cref="Number"/> includes integers).</summary>
[Flags]
public enum JsonTypes : byte
{
    None = 0,
    Null = 1,
    Boolean = 2,
    Integer = 4,
    Number = 8,
    String = 16,
    Array = 32,
    Object = 64,
    Any = Null | Boolean | Integer | Number | String | Array | Object,
}

/// <summary>A schema that cannot be compiled; <see cref="Path"/> points at the offending keyword (e.g. <c>properties.city.pattern</c>).</summary>
public sealed class JsonSchemaException(string message, string path) : Exception(message)
{
    public string Path { get; } = path;
}

/// <summary>
/// One compiled JSON Schema node: what the grammar in <see cref="JsonValueRecognizer"/> lets a value be. Immutable once
/// compiled, so one tree serves every sequence of a request.
/// </summary>
public sealed class JsonSchema
{
    /// <summary>Longest string (in code points) generated when a schema gives no <c>maxLength</c>: a sampler must end every string.</summary>
    public const int DefaultMaxStringLength = 256;
    /// <summary>Most items of an array without <c>maxItems</c>.</summary>
    public const int DefaultMaxItems = 64;
    /// <summary>Most members of an object that admits undeclared keys, and longest such key (code points).</summary>
    public const int MaxFreeMembers = 64, MaxFreeKeyLength = 64;
    /// <summary>Digits of an integer part, of a fraction, of an exponent.</summary>
    public const int MaxIntegerDigits = 15, MaxFractionDigits = 15, MaxExponentDigits = 2;
    /// <summary>Deepest nesting of objects and arrays.</summary>
    public const int MaxDepth = 32;
    /// <summary>Most declared properties of one object and most values of one enum (bit masks track them).</summary>
    public const int MaxProperties = 64, MaxEnumValues = 64;

    internal JsonSchema() { }

    public JsonTypes Types { get; internal set; } = JsonTypes.Any;
    /// <summary>Exact serialized values (compact JSON, UTF-8) from <c>enum</c> or <c>const</c>; null = no value list.</summary>
    internal byte[][]? Enum { get; set; }
    /// <summary>Declared property names (UTF-8, sorted by bytes) and their schemas.</summary>
    internal byte[][] PropertyNames { get; set; } = [];
    internal JsonSchema[] PropertySchemas { get; set; } = [];
    internal ulong Required { get; set; }
    /// <summary>Schema of undeclared members; null = none may appear.</summary>
    internal JsonSchema? Additional { get; set; }
    internal JsonSchema? Items { get; set; }
    internal int MinItems { get; set; }
    internal int MaxItems { get; set; } = DefaultMaxItems;
    internal int MinLength { get; set; }
    internal int MaxLength { get; set; } = DefaultMaxStringLength;

    /// <summary>Any JSON value (nesting bounded by <see cref="MaxDepth"/>).</summary>
    public static JsonSchema Any { get; } = CreateAny();

    /// <summary>Any JSON object: response_format json_object.</summary>
    public static JsonSchema AnyObject { get; } = new() { Types = JsonTypes.Object, Additional = Any };

    private static JsonSchema CreateAny()
    {
        var any = new JsonSchema();
        any.Additional = any;
        any.Items = any;
        return any;
    }

    private static readonly HashSet<string> s_annotations =
    [
        "description", "title", "default", "examples", "$schema", "$id", "$comment", "format", "deprecated", "readOnly",
        "writeOnly", "markdownDescription",
    ];

    /// <summary>
    /// Compiles a schema. Supported: <c>type</c> (a name or a list), <c>enum</c>, <c>const</c>, <c>properties</c>,
    /// <c>required</c>, <c>additionalProperties</c> (boolean or schema), <c>items</c>, <c>minItems</c>, <c>maxItems</c>,
    /// <c>minLength</c>, <c>maxLength</c>; annotations (description, title, default, examples, format, …) are ignored.
    /// Anything else throws <see cref="JsonSchemaException"/> naming the keyword.
    /// With <paramref name="strict"/>, every object must list all its properties in <c>required</c> and set
    /// <c>additionalProperties: false</c> (DeepSeek's strict mode).
    /// </summary>
    public static JsonSchema Compile(JsonElement schema, bool strict = false)
    {
        // System.Text.Json decodes names and strings only when they are read, and throws InvalidOperationException for
        // text that is not Unicode (invalid UTF-8, or an unpaired surrogate escape such as "\ud800"); every read in
        // Node is guarded by a ValueKind check, so that is the only way one can escape, and it is the schema's fault.
        try { return Node(schema, strict, path: "", depth: 0); }
        catch (InvalidOperationException e) { throw new JsonSchemaException($"the schema holds text that is not valid Unicode: {e.Message}", ""); }
    }

    /// <summary>Parses and compiles a schema given as JSON text.</summary>
    public static JsonSchema Compile(string json, bool strict = false)
    {
        using var doc = JsonDocument.Parse(json);
        return Compile(doc.RootElement, strict);
    }

    private static string Join(string path, string key) => path.Length == 0 ? key : path + "." + key;

    private static JsonSchema Node(JsonElement e, bool strict, string path, int depth)
    {
        string at = path.Length == 0 ? "the schema" : path;
        if (depth >= MaxDepth) throw new JsonSchemaException($"{at} nests {MaxDepth} or more levels deep", path);
        if (e.ValueKind == JsonValueKind.True) return Any;
        if (e.ValueKind != JsonValueKind.Object) throw new JsonSchemaException($"{at} must be a JSON object (a schema)", path);
        var node = new JsonSchema();
        bool hasAdditional = false;
        JsonElement? properties = null, required = null;
        foreach (var p in e.EnumerateObject())
        {
            string key = Join(path, p.Name);
            switch (p.Name)
            {
                case "type": node.Types = ParseTypes(p.Value, key); break;
                case "enum":
                    if (p.Value.ValueKind != JsonValueKind.Array || p.Value.GetArrayLength() == 0) throw new JsonSchemaException($"{key} must be a non-empty array", key);
                    if (p.Value.GetArrayLength() > MaxEnumValues) throw new JsonSchemaException($"{key} has more than {MaxEnumValues} values", key);
                    node.Enum = p.Value.EnumerateArray().Select(Serialize).Distinct(ByteArrayComparer.Instance).ToArray();
                    break;
                case "const": node.Enum = [Serialize(p.Value)]; break;
                case "properties": properties = p.Value; break;
                case "required": required = p.Value; break;
                case "additionalProperties":
                    hasAdditional = true;
                    node.Additional = p.Value.ValueKind switch
                    {
                        JsonValueKind.False => null,
                        JsonValueKind.True => Any,
                        _ => Node(p.Value, strict, key, depth + 1),
                    };
                    break;
                case "items": node.Items = Node(p.Value, strict, key, depth + 1); break;
                case "minItems": node.MinItems = Count(p.Value, key); break;
                case "maxItems": node.MaxItems = Math.Min(Count(p.Value, key), DefaultMaxItems); break;
                case "minLength": node.MinLength = Count(p.Value, key); break;
                case "maxLength": node.MaxLength = Math.Min(Count(p.Value, key), DefaultMaxStringLength); break;
                default:
                    if (s_annotations.Contains(p.Name)) break;
                    throw new JsonSchemaException($"unsupported JSON Schema keyword '{p.Name}' at {key}", key);
            }
        }
        if (node.MinLength > node.MaxLength) throw new JsonSchemaException($"{at}: minLength {node.MinLength} exceeds the longest string we generate ({node.MaxLength})", Join(path, "minLength"));
        if (node.MinItems > node.MaxItems) throw new JsonSchemaException($"{at}: minItems {node.MinItems} exceeds the most items we generate ({node.MaxItems})", Join(path, "minItems"));
        node.Items ??= Any;

        var names = new List<(byte[] Name, JsonSchema Schema, string Text)>();
        if (properties is { } props)
        {
            if (props.ValueKind != JsonValueKind.Object) throw new JsonSchemaException($"{Join(path, "properties")} must be an object", Join(path, "properties"));
            foreach (var p in props.EnumerateObject())
            {
                string key = Join(Join(path, "properties"), p.Name);
                if (p.Name.Any(c => c < 0x20 || c == '"' || c == '\\'))
                    throw new JsonSchemaException($"property name at {key} holds a quote, backslash or control character, which we do not generate", key);
                names.Add((Encoding.UTF8.GetBytes(p.Name), Node(p.Value, strict, key, depth + 1), p.Name));
            }
            if (names.Count > MaxProperties) throw new JsonSchemaException($"{at} declares more than {MaxProperties} properties", Join(path, "properties"));
        }
        names.Sort((a, b) => a.Name.AsSpan().SequenceCompareTo(b.Name));
        node.PropertyNames = names.Select(n => n.Name).ToArray();
        node.PropertySchemas = names.Select(n => n.Schema).ToArray();
        var declared = new HashSet<string>(names.Select(n => n.Text));
        if (required is { } req)
        {
            string key = Join(path, "required");
            if (req.ValueKind != JsonValueKind.Array) throw new JsonSchemaException($"{key} must be an array of names", key);
            foreach (var r in req.EnumerateArray())
            {
                if (r.ValueKind != JsonValueKind.String) throw new JsonSchemaException($"{key} must be an array of names", key);
                int index = names.FindIndex(n => n.Text == r.GetString());
                if (index < 0) throw new JsonSchemaException($"{key} names '{r.GetString()}', which is not declared in properties", key);
                node.Required |= 1UL << index;
            }
        }
        // Undeclared members are generated only when the schema asks for them, or when it declares none at all.
        if (!hasAdditional && names.Count == 0) node.Additional = Any;
        bool objectAllowed = (node.Types & JsonTypes.Object) != 0 && node.Enum is null;
        if (strict && objectAllowed && (properties is not null || (node.Types == JsonTypes.Object)))
        {
            if (!hasAdditional || node.Additional is not null)
                throw new JsonSchemaException($"strict mode: {at} must set additionalProperties to false", Join(path, "additionalProperties"));
            ulong all = names.Count == 64 ? ulong.MaxValue : (1UL << names.Count) - 1;
            if (node.Required != all)
            {
                string missing = names.Where((n, i) => (node.Required & (1UL << i)) == 0).Select(n => n.Text).First();
                throw new JsonSchemaException($"strict mode: every property of {at} must be required ('{missing}' is not)", Join(path, "required"));
            }
        }
        if (node.Enum is { } values)
        {
            foreach (var v in values)
                if ((TypeOf(v) & node.Types) == 0)
                    throw new JsonSchemaException($"{at}: enum/const value {Encoding.UTF8.GetString(v)} does not match its type", Join(path, "enum"));
        }
        return node;
    }

    private static JsonTypes TypeOf(byte[] json) => json[0] switch
    {
        (byte)'n' => JsonTypes.Null,
        (byte)'t' or (byte)'f' => JsonTypes.Boolean,
        (byte)'"' => JsonTypes.String,
        (byte)'[' => JsonTypes.Array,
        (byte)'{' => JsonTypes.Object,
        _ => Array.IndexOf(json, (byte)'.') < 0 && Array.IndexOf(json, (byte)'e') < 0 && Array.IndexOf(json, (byte)'E') < 0
            ? JsonTypes.Integer | JsonTypes.Number : JsonTypes.Number,
    };

    private static JsonTypes ParseTypes(JsonElement v, string path)
    {
        if (v.ValueKind == JsonValueKind.String) return TypeName(v.GetString()!, path);
        if (v.ValueKind != JsonValueKind.Array || v.GetArrayLength() == 0) throw new JsonSchemaException($"{path} must be a type name or a non-empty list of them", path);
        JsonTypes t = JsonTypes.None;
        foreach (var e in v.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.String) throw new JsonSchemaException($"{path} must be a type name or a non-empty list of them", path);
            t |= TypeName(e.GetString()!, path);
        }
        return t;
    }

    private static JsonTypes TypeName(string name, string path) => name switch
    {
        "null" => JsonTypes.Null,
        "boolean" => JsonTypes.Boolean,
        "integer" => JsonTypes.Integer,
        "number" => JsonTypes.Number | JsonTypes.Integer,
        "string" => JsonTypes.String,
        "array" => JsonTypes.Array,
        "object" => JsonTypes.Object,
        _ => throw new JsonSchemaException($"unknown type '{name}' at {path}", path),
    };

    private static int Count(JsonElement v, string path)
    {
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int n) || n < 0) throw new JsonSchemaException($"{path} must be a non-negative integer", path);
        return n;
    }

    private static byte[] Serialize(JsonElement v)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping })) v.WriteTo(w);
        return ms.ToArray();
    }

    private sealed class ByteArrayComparer : IEqualityComparer<byte[]>
    {
        public static readonly ByteArrayComparer Instance = new();
        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);
        public int GetHashCode(byte[] obj)
        {
            var h = new HashCode();
            h.AddBytes(obj);
            return h.ToHashCode();
        }
    }
}
