namespace SharpSeek.Inference;

/// <summary>
/// Recognises, byte by byte, a prefix of one JSON object (response_format json_object): a pushdown automaton over
/// UTF-8 bytes with the container stack packed into a 64-bit mask. <see cref="TryFeed"/> accepts a token's bytes
/// only when the text stays a valid prefix, so constrained decoding can reject a candidate token and draw again.
/// Whitespace is limited to single spaces between tokens so that a sampler cannot pad forever.
/// </summary>
internal sealed class JsonValueRecognizer
{
    private const int MaxDepth = 64;

    private enum Mode : byte
    {
        Start, ObjectKeyOrEnd, ObjectKey, Colon, Value, ArrayValueOrEnd, AfterValue,
        String, StringEscape, StringUnicode,
        NumberSign, NumberZero, NumberInt, NumberFracStart, NumberFrac, NumberExpStart, NumberExpSign, NumberExp,
        Literal, Done,
    }

    private struct State
    {
        public Mode Mode;
        public bool StringIsKey;
        public byte Remaining;       // hex digits of \u, or letters of a literal
        public byte LiteralIndex;
        public byte LiteralKind;     // 0 true, 1 false, 2 null
        public bool LastWasSpace;
        public int Depth;
        public ulong ObjectMask;     // bit d set: container at depth d is an object
    }

    private static readonly byte[][] s_literals = ["true"u8.ToArray(), "false"u8.ToArray(), "null"u8.ToArray()];
    private State _state;

    /// <summary>True when one complete object has been read (only trailing spaces may follow).</summary>
    public bool IsComplete => _state.Mode == Mode.Done;

    /// <summary>Feeds <paramref name="bytes"/> if the result is still a valid prefix; otherwise changes nothing.</summary>
    public bool TryFeed(ReadOnlySpan<byte> bytes)
    {
        if (!CanFeed(bytes, out var next)) return false;
        _state = next;
        return true;
    }

    /// <summary>Whether <paramref name="bytes"/> would keep the text a valid prefix.</summary>
    public bool CanFeed(ReadOnlySpan<byte> bytes) => CanFeed(bytes, out _);

    private bool CanFeed(ReadOnlySpan<byte> bytes, out State next)
    {
        next = _state;
        if (bytes.IsEmpty) return false;
        foreach (byte b in bytes)
            if (!Step(ref next, b)) return false;
        return true;
    }

    private static bool Step(ref State s, byte b)
    {
        switch (s.Mode)
        {
            case Mode.String:
                if (b == '"') { s.Mode = s.StringIsKey ? Mode.Colon : Mode.AfterValue; s.LastWasSpace = false; EndValueIfTop(ref s); return true; }
                if (b == '\\') { s.Mode = Mode.StringEscape; return true; }
                return b >= 0x20;
            case Mode.StringEscape:
                if (b == 'u') { s.Mode = Mode.StringUnicode; s.Remaining = 4; return true; }
                if (b is (byte)'"' or (byte)'\\' or (byte)'/' or (byte)'b' or (byte)'f' or (byte)'n' or (byte)'r' or (byte)'t') { s.Mode = Mode.String; return true; }
                return false;
            case Mode.StringUnicode:
                if (!IsHex(b)) return false;
                if (--s.Remaining == 0) s.Mode = Mode.String;
                return true;
            case Mode.Literal:
                if (b != s_literals[s.LiteralKind][s.LiteralIndex]) return false;
                if (++s.LiteralIndex == s_literals[s.LiteralKind].Length) { s.Mode = Mode.AfterValue; s.LastWasSpace = false; }
                return true;
            case Mode.NumberSign:
                if (b == '0') { s.Mode = Mode.NumberZero; return true; }
                if (b is >= (byte)'1' and <= (byte)'9') { s.Mode = Mode.NumberInt; return true; }
                return false;
            case Mode.NumberZero:
                if (b == '.') { s.Mode = Mode.NumberFracStart; return true; }
                if (b is (byte)'e' or (byte)'E') { s.Mode = Mode.NumberExpStart; return true; }
                return EndNumber(ref s, b);
            case Mode.NumberInt:
                if (IsDigit(b)) return true;
                if (b == '.') { s.Mode = Mode.NumberFracStart; return true; }
                if (b is (byte)'e' or (byte)'E') { s.Mode = Mode.NumberExpStart; return true; }
                return EndNumber(ref s, b);
            case Mode.NumberFracStart:
                if (!IsDigit(b)) return false;
                s.Mode = Mode.NumberFrac;
                return true;
            case Mode.NumberFrac:
                if (IsDigit(b)) return true;
                if (b is (byte)'e' or (byte)'E') { s.Mode = Mode.NumberExpStart; return true; }
                return EndNumber(ref s, b);
            case Mode.NumberExpStart:
                if (b is (byte)'+' or (byte)'-') { s.Mode = Mode.NumberExpSign; return true; }
                if (!IsDigit(b)) return false;
                s.Mode = Mode.NumberExp;
                return true;
            case Mode.NumberExpSign:
                if (!IsDigit(b)) return false;
                s.Mode = Mode.NumberExp;
                return true;
            case Mode.NumberExp:
                if (IsDigit(b)) return true;
                return EndNumber(ref s, b);
        }

        if (b == ' ')
        {
            if (s.LastWasSpace || s.Mode == Mode.Start) return false;
            s.LastWasSpace = true;
            return true;
        }
        s.LastWasSpace = false;
        switch (s.Mode)
        {
            case Mode.Start:
                return b == '{' && Push(ref s, isObject: true);
            case Mode.ObjectKeyOrEnd:
                if (b == '}') return Pop(ref s);
                goto case Mode.ObjectKey;
            case Mode.ObjectKey:
                if (b != '"') return false;
                s.Mode = Mode.String;
                s.StringIsKey = true;
                return true;
            case Mode.Colon:
                if (b != ':') return false;
                s.Mode = Mode.Value;
                return true;
            case Mode.ArrayValueOrEnd:
                if (b == ']') return Pop(ref s);
                goto case Mode.Value;
            case Mode.Value:
                return StartValue(ref s, b);
            case Mode.AfterValue:
                if (s.Depth == 0) return false;
                bool inObject = (s.ObjectMask & (1UL << (s.Depth - 1))) != 0;
                if (b == ',') { s.Mode = inObject ? Mode.ObjectKey : Mode.Value; return true; }
                if (b == (inObject ? '}' : ']')) return Pop(ref s);
                return false;
            case Mode.Done:
                return false;
        }
        return false;
    }

    private static bool StartValue(ref State s, byte b)
    {
        switch (b)
        {
            case (byte)'{': return Push(ref s, isObject: true);
            case (byte)'[': return Push(ref s, isObject: false);
            case (byte)'"': s.Mode = Mode.String; s.StringIsKey = false; return true;
            case (byte)'-': s.Mode = Mode.NumberSign; return true;
            case (byte)'0': s.Mode = Mode.NumberZero; return true;
            case (byte)'t': s.Mode = Mode.Literal; s.LiteralKind = 0; s.LiteralIndex = 1; return true;
            case (byte)'f': s.Mode = Mode.Literal; s.LiteralKind = 1; s.LiteralIndex = 1; return true;
            case (byte)'n': s.Mode = Mode.Literal; s.LiteralKind = 2; s.LiteralIndex = 1; return true;
        }
        if (b is >= (byte)'1' and <= (byte)'9') { s.Mode = Mode.NumberInt; return true; }
        return false;
    }

    private static bool EndNumber(ref State s, byte b)
    {
        s.Mode = Mode.AfterValue;
        return Step(ref s, b);
    }

    private static bool Push(ref State s, bool isObject)
    {
        if (s.Depth >= MaxDepth) return false;
        if (isObject) s.ObjectMask |= 1UL << s.Depth; else s.ObjectMask &= ~(1UL << s.Depth);
        s.Depth++;
        s.Mode = isObject ? Mode.ObjectKeyOrEnd : Mode.ArrayValueOrEnd;
        return true;
    }

    private static bool Pop(ref State s)
    {
        s.Depth--;
        s.Mode = s.Depth == 0 ? Mode.Done : Mode.AfterValue;
        return true;
    }

    private static void EndValueIfTop(ref State s)
    {
        if (s.Depth == 0 && s.Mode == Mode.AfterValue) s.Mode = Mode.Done;
    }

    private static bool IsDigit(byte b) => b is >= (byte)'0' and <= (byte)'9';
    private static bool IsHex(byte b) => IsDigit(b) || b is >= (byte)'a' and <= (byte)'f' || b is >= (byte)'A' and <= (byte)'F';
}
