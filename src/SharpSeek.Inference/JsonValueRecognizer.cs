using SharpSeek.Inference.Tools;

namespace SharpSeek.Inference;

/// <summary>
/// Recognises, byte by byte, a prefix of one JSON value that satisfies a compiled <see cref="JsonSchema"/> (by default
/// any object: response_format json_object). A pushdown automaton over UTF-8 bytes: <see cref="TryFeed"/> accepts a
/// token's bytes only when the text stays a prefix of some valid document, so constrained decoding can reject a
/// candidate token and draw again. Everything a sampler could repeat is bounded (string length, digits, items,
/// members, one space between tokens), so every constrained generation ends.
/// <para>
/// Speculative feeding does not copy the container stack: a <see cref="Cursor"/> holds the top frame and writes pushed
/// frames to a scratch stack, reading below its lowest write from the committed one, so trying a token allocates
/// nothing and costs its bytes, not the nesting depth.
/// </para>
/// </summary>
internal sealed partial class JsonValueRecognizer
{
    internal enum Phase : byte
    {
        Value,            // a value must start (root, after ':' or after ',' in an array)
        ObjectFirst,      // after '{': a key or '}'
        ObjectKey,        // after ',': a key
        Key,              // inside a key string
        Colon,
        ObjectAfter,      // after a member value: ',' or '}'
        ArrayFirst,       // after '[': a value or ']'
        ArrayAfter,       // after an item: ',' or ']'
        String, StringEscape, StringUnicode,
        NumberSign, NumberZero, NumberInt, NumberFracStart, NumberFrac, NumberExpStart, NumberExpSign, NumberExp,
        Literal,          // true / false / null, or an enum value: bytes of one of Node.Enum
        Done,
    }

    /// <summary>A container on the stack (or the value being read, as <see cref="Cursor.Top"/>).</summary>
    internal struct Frame
    {
        public JsonSchema Node;
        public Phase Phase;
        public ulong Seen;       // object: declared properties already present
        public int Count;        // object: members; array: items
        public int KeyLo, KeyHi; // object key: candidate range of declared names with the bytes read so far
        public int KeyLength;    // object key: bytes read so far
    }

    /// <summary>The whole state but the frames below the top: a value type, so trying bytes on a copy is free.</summary>
    internal struct Cursor
    {
        public Frame Top;        // the innermost open container (Node null at depth 0: the root value's parent)
        public int Depth;        // open containers
        public int DirtyFrom;    // scratch holds stack entries at and above this index
        public JsonSchema ValueNode; // schema of the scalar or value being started
        public Phase Mode;       // the scalar being read, or Top.Phase when between values
        public bool InScalar;
        public bool LastWasSpace;
        public int Chars;        // string: code points so far
        public byte Utf8Need;    // string: continuation bytes still expected
        public byte Utf8Lo, Utf8Hi; // string: range of the next continuation byte
        public byte Hex;         // \u digits read
        public int Digits;       // number: digits of the current part
        public ulong Candidates; // literal/enum: values still matching
        public int Offset;       // literal/enum: bytes matched
        public bool RootDone;
    }

    private static readonly byte[][] s_true = ["true"u8.ToArray()], s_false = ["false"u8.ToArray()], s_null = ["null"u8.ToArray()];
    private static readonly byte[][] s_booleanOrNull = ["true"u8.ToArray(), "false"u8.ToArray(), "null"u8.ToArray()];

    private readonly Frame[] _stack = new Frame[JsonSchema.MaxDepth + 2];
    private readonly Frame[] _scratch = new Frame[JsonSchema.MaxDepth + 2];
    private Cursor _cursor;

    public JsonValueRecognizer() : this(JsonSchema.AnyObject) { }

    public JsonValueRecognizer(JsonSchema schema) => _cursor = Start(schema);

    /// <summary>True when one complete value has been read.</summary>
    public bool IsComplete => IsCompleteAt(_cursor);

    /// <summary>Feeds <paramref name="bytes"/> if the result is still a valid prefix; otherwise changes nothing.</summary>
    public bool TryFeed(ReadOnlySpan<byte> bytes)
    {
        if (!CanFeed(bytes, out var next)) return false;
        Commit(next);
        return true;
    }

    /// <summary>Whether <paramref name="bytes"/> would keep the text a valid prefix.</summary>
    public bool CanFeed(ReadOnlySpan<byte> bytes) => CanFeed(bytes, out _);

    private bool CanFeed(ReadOnlySpan<byte> bytes, out Cursor next)
    {
        next = Begin();
        if (bytes.IsEmpty) return false;
        foreach (byte b in bytes)
            if (!Step(ref next, b)) return false;
        return true;
    }

    // ---- Cursor API (the tool-call grammar drives the recognizer through these) --------------------------------

    /// <summary>A cursor at the start of a value of <paramref name="schema"/>.</summary>
    internal static Cursor Start(JsonSchema schema) => new() { ValueNode = schema, Mode = Phase.Value, DirtyFrom = int.MaxValue };

    /// <summary>A copy of the committed state to try bytes on.</summary>
    internal Cursor Begin()
    {
        var c = _cursor;
        c.DirtyFrom = int.MaxValue;
        return c;
    }

    /// <summary>Makes a tried cursor the committed state (its scratch frames become the stack's).</summary>
    internal void Commit(in Cursor c)
    {
        for (int i = c.DirtyFrom; i < c.Depth - 1; i++) _stack[i] = _scratch[i];
        _cursor = c;
        _cursor.DirtyFrom = int.MaxValue;
    }

    internal static bool IsCompleteAt(in Cursor c)
    {
        if (c.RootDone) return true;
        if (c.Depth != 0 || !c.InScalar) return false;
        // A root number or enum value may end wherever it could be whole.
        return c.Mode switch
        {
            Phase.NumberZero or Phase.NumberInt or Phase.NumberFrac or Phase.NumberExp => true,
            Phase.Literal => LiteralComplete(c),
            _ => false,
        };
    }

    private static bool LiteralComplete(in Cursor c)
    {
        var values = LiteralValues(c.ValueNode);
        for (int i = 0; i < values.Length; i++)
            if ((c.Candidates & (1UL << i)) != 0 && values[i].Length == c.Offset) return true;
        return false;
    }

    /// <summary>Advances <paramref name="c"/> by one byte; false (and <paramref name="c"/> unusable) when the byte is not allowed.</summary>
    internal bool Step(ref Cursor c, byte b)
    {
        if (c.RootDone) return false;
        if (c.InScalar) return StepScalar(ref c, b);
        if (c.Mode == Phase.Key) return StepKey(ref c, b);
        if (b == ' ')
        {
            // One space between tokens, none before the root value.
            if (c.LastWasSpace || (c.Depth == 0 && c.Mode == Phase.Value)) return false;
            c.LastWasSpace = true;
            return true;
        }
        c.LastWasSpace = false;
        ref Frame top = ref c.Top;
        switch (c.Mode)
        {
            case Phase.Value:
                return StartValue(ref c, b);
            case Phase.ObjectFirst:
                if (b == '}') return CloseObject(ref c);
                goto case Phase.ObjectKey;
            case Phase.ObjectKey:
                if (b != '"' || !KeyPossible(top)) return false;
                top.KeyLo = 0;
                top.KeyHi = top.Node.PropertyNames.Length;
                top.KeyLength = 0;
                c.Utf8Need = 0;
                c.Chars = 0;
                c.Mode = Phase.Key;
                return true;
            case Phase.Colon:
                if (b != ':') return false;
                c.Mode = Phase.Value;
                return true;
            case Phase.ObjectAfter:
                if (b == '}') return CloseObject(ref c);
                if (b != ',' || !KeyPossible(top)) return false;
                c.Mode = Phase.ObjectKey;
                return true;
            case Phase.ArrayFirst:
                if (b == ']') return CloseArray(ref c);
                if (top.Node.MaxItems == 0) return false;
                c.ValueNode = top.Node.Items!;
                return StartValue(ref c, b);
            case Phase.ArrayAfter:
                if (b == ']') return CloseArray(ref c);
                if (b != ',' || top.Count >= top.Node.MaxItems) return false;
                c.ValueNode = top.Node.Items!;
                c.Mode = Phase.Value;
                return true;
        }
        return false;
    }

    // Another member may follow: an undeclared key is allowed, or a declared one is still missing.
    private static bool KeyPossible(in Frame top)
    {
        var node = top.Node;
        if (node.Additional is not null && top.Count < JsonSchema.MaxFreeMembers) return true;
        int n = node.PropertyNames.Length;
        ulong all = n == 64 ? ulong.MaxValue : (1UL << n) - 1;
        return (top.Seen & all) != all;
    }

    private static bool StepKey(ref Cursor c, byte b)
    {
        ref Frame top = ref c.Top;
        var node = top.Node;
        var names = node.PropertyNames;
        if (b == '"')
        {
            if (c.Utf8Need > 0) return false;
            int exact = -1;
            for (int i = top.KeyLo; i < top.KeyHi; i++)
                if (names[i].Length == top.KeyLength) { exact = i; break; }
            JsonSchema child;
            if (exact >= 0)
            {
                if ((top.Seen & (1UL << exact)) != 0) return false; // a duplicate key
                top.Seen |= 1UL << exact;
                child = node.PropertySchemas[exact];
            }
            else
            {
                if (node.Additional is null || top.Count >= JsonSchema.MaxFreeMembers) return false;
                child = node.Additional;
            }
            top.Count++;
            c.ValueNode = child;
            c.Mode = Phase.Colon;
            return true;
        }
        if (b < 0x20 || b == '\\') return false;
        // Narrow the candidates to declared names with this byte next (names are sorted, so they stay a range).
        int k = top.KeyLength, lo = top.KeyHi, hi = top.KeyLo;
        for (int i = top.KeyLo; i < top.KeyHi; i++)
        {
            if (names[i].Length > k && names[i][k] == b)
            {
                if (i < lo) lo = i;
                hi = i + 1;
            }
        }
        if (lo >= hi) { lo = 0; hi = 0; }
        bool declaredAlive = false;
        for (int i = lo; i < hi; i++)
            if ((top.Seen & (1UL << i)) == 0) { declaredAlive = true; break; }
        if (!declaredAlive)
        {
            if (node.Additional is null || top.Count >= JsonSchema.MaxFreeMembers || !FreeKeyByte(ref c, b)) return false;
        }
        else if (node.Additional is not null && !FreeKeyByte(ref c, b)) return false;
        top.KeyLo = lo;
        top.KeyHi = hi;
        top.KeyLength = k + 1;
        return true;
    }

    // Keys of undeclared members must stay well-formed UTF-8 (declared names are, by construction) and short.
    private static bool FreeKeyByte(ref Cursor c, byte b)
    {
        if (c.Utf8Need > 0)
        {
            if (b < c.Utf8Lo || b > c.Utf8Hi) return false;
            c.Utf8Need--;
            c.Utf8Lo = 0x80;
            c.Utf8Hi = 0xBF;
            return true;
        }
        if (c.Chars >= JsonSchema.MaxFreeKeyLength || !Utf8Lead(ref c, b)) return false;
        c.Chars++;
        return true;
    }

    private bool StartValue(ref Cursor c, byte b)
    {
        var node = c.ValueNode;
        if (node.Enum is not null || b is (byte)'t' or (byte)'f' or (byte)'n')
        {
            var values = node.Enum ?? (b == 't' ? ((node.Types & JsonTypes.Boolean) != 0 ? s_true : null)
                : b == 'f' ? ((node.Types & JsonTypes.Boolean) != 0 ? s_false : null)
                : ((node.Types & JsonTypes.Null) != 0 ? s_null : null));
            if (values is null) return false;
            ulong candidates = 0;
            for (int i = 0; i < values.Length; i++)
                if (values[i][0] == b) candidates |= 1UL << i;
            if (candidates == 0) return false;
            c.InScalar = true;
            c.Mode = Phase.Literal;
            c.Candidates = candidates;
            c.Offset = 1;
            if (node.Enum is null) c.ValueNode = b == 'n' ? NullNode : BooleanNode(b);
            return true;
        }
        var t = node.Types;
        switch (b)
        {
            case (byte)'{':
                return (t & JsonTypes.Object) != 0 && Push(ref c, node, Phase.ObjectFirst);
            case (byte)'[':
                return (t & JsonTypes.Array) != 0 && Push(ref c, node, Phase.ArrayFirst);
            case (byte)'"':
                if ((t & JsonTypes.String) == 0) return false;
                c.InScalar = true;
                c.Mode = Phase.String;
                c.Chars = 0;
                c.Utf8Need = 0;
                return true;
            case (byte)'-':
                if ((t & (JsonTypes.Integer | JsonTypes.Number)) == 0) return false;
                c.InScalar = true;
                c.Mode = Phase.NumberSign;
                return true;
        }
        if (b is >= (byte)'0' and <= (byte)'9' && (t & (JsonTypes.Integer | JsonTypes.Number)) != 0)
        {
            c.InScalar = true;
            c.Mode = b == '0' ? Phase.NumberZero : Phase.NumberInt;
            c.Digits = 1;
            return true;
        }
        return false;
    }

    // The literal tables of true/false/null hang off two private nodes so a cursor needs no extra field for them.
    private static readonly JsonSchema NullNode = new() { Types = JsonTypes.Null, Enum = s_null };
    private static readonly JsonSchema TrueNode = new() { Types = JsonTypes.Boolean, Enum = s_true };
    private static readonly JsonSchema FalseNode = new() { Types = JsonTypes.Boolean, Enum = s_false };
    private static JsonSchema BooleanNode(byte b) => b == 't' ? TrueNode : FalseNode;

    private static byte[][] LiteralValues(JsonSchema node) => node.Enum ?? s_booleanOrNull;

    private static bool EndValue(ref Cursor c)
    {
        c.InScalar = false;
        c.LastWasSpace = false;
        return AfterValue(ref c);
    }

    private static bool AfterValue(ref Cursor c)
    {
        if (c.Depth == 0) { c.RootDone = true; c.Mode = Phase.Done; return true; }
        if (c.Top.Phase is Phase.ArrayFirst or Phase.ArrayAfter)
        {
            c.Top.Count++;
            c.Mode = c.Top.Phase = Phase.ArrayAfter;
        }
        else c.Mode = c.Top.Phase = Phase.ObjectAfter;
        return true;
    }

    private bool Push(ref Cursor c, JsonSchema node, Phase phase)
    {
        if (c.Depth >= JsonSchema.MaxDepth) return false;
        if (c.Depth > 0)
        {
            int slot = c.Depth - 1;
            _scratch[slot] = c.Top;
            if (slot < c.DirtyFrom) c.DirtyFrom = slot;
        }
        c.Top = new Frame { Node = node, Phase = phase };
        c.Depth++;
        c.Mode = phase;
        return true;
    }

    private bool CloseObject(ref Cursor c)
    {
        if ((c.Top.Node.Required & ~c.Top.Seen) != 0) return false;
        return Pop(ref c);
    }

    private bool CloseArray(ref Cursor c)
    {
        if (c.Top.Count < c.Top.Node.MinItems) return false;
        return Pop(ref c);
    }

    private bool Pop(ref Cursor c)
    {
        c.Depth--;
        if (c.Depth > 0)
        {
            int slot = c.Depth - 1;
            c.Top = slot >= c.DirtyFrom ? _scratch[slot] : _stack[slot];
            c.Mode = c.Top.Phase;
        }
        else c.Top = default;
        c.LastWasSpace = false;
        return AfterValue(ref c);
    }
}
