using SharpSeek.Inference.Tools;

namespace SharpSeek.Inference;

/// <summary>The scalar half of <see cref="JsonValueRecognizer"/>: strings (UTF-8, escapes, lengths), numbers, literals and enum values.</summary>
internal sealed partial class JsonValueRecognizer
{
    private bool StepScalar(ref Cursor c, byte b)
    {
        switch (c.Mode)
        {
            case Phase.String:
                if (c.Utf8Need > 0)
                {
                    if (b < c.Utf8Lo || b > c.Utf8Hi) return false;
                    c.Utf8Need--;
                    c.Utf8Lo = 0x80;
                    c.Utf8Hi = 0xBF;
                    return true;
                }
                if (b == '"')
                {
                    if (c.Chars < c.ValueNode.MinLength) return false;
                    return EndValue(ref c);
                }
                if (c.Chars >= c.ValueNode.MaxLength) return false;
                if (b == '\\') { c.Mode = Phase.StringEscape; c.Chars++; return true; }
                if (b < 0x20) return false;
                if (!Utf8Lead(ref c, b)) return false;
                c.Chars++;
                return true;
            case Phase.StringEscape:
                if (b == 'u') { c.Mode = Phase.StringUnicode; c.Hex = 0; return true; }
                if (b is (byte)'"' or (byte)'\\' or (byte)'/' or (byte)'b' or (byte)'f' or (byte)'n' or (byte)'r' or (byte)'t') { c.Mode = Phase.String; return true; }
                return false;
            case Phase.StringUnicode:
                if (!IsHex(b)) return false;
                // No surrogate escapes (\uD800–\uDFFF): a lone one is not text, and pairs are written as UTF-8 instead.
                int digit = c.Hex & 0x7F;
                if (digit == 0 && b is (byte)'d' or (byte)'D') c.Hex |= 0x80;
                else if (digit == 1 && (c.Hex & 0x80) != 0 && !(b is >= (byte)'0' and <= (byte)'7')) return false;
                if ((++c.Hex & 0x7F) == 4) c.Mode = Phase.String;
                return true;
            case Phase.Literal:
                return StepLiteral(ref c, b);
            case Phase.NumberSign:
                if (b == '0') { c.Mode = Phase.NumberZero; c.Digits = 1; return true; }
                if (b is >= (byte)'1' and <= (byte)'9') { c.Mode = Phase.NumberInt; c.Digits = 1; return true; }
                return false;
            case Phase.NumberZero:
                if (FractionAllowed(c) && b == '.') { c.Mode = Phase.NumberFracStart; return true; }
                if (FractionAllowed(c) && b is (byte)'e' or (byte)'E') { c.Mode = Phase.NumberExpStart; return true; }
                return EndNumber(ref c, b);
            case Phase.NumberInt:
                if (IsDigit(b)) return ++c.Digits <= JsonSchema.MaxIntegerDigits;
                goto case Phase.NumberZero;
            case Phase.NumberFracStart:
                if (!IsDigit(b)) return false;
                c.Mode = Phase.NumberFrac;
                c.Digits = 1;
                return true;
            case Phase.NumberFrac:
                if (IsDigit(b)) return ++c.Digits <= JsonSchema.MaxFractionDigits;
                if (b is (byte)'e' or (byte)'E') { c.Mode = Phase.NumberExpStart; return true; }
                return EndNumber(ref c, b);
            case Phase.NumberExpStart:
                if (b is (byte)'+' or (byte)'-') { c.Mode = Phase.NumberExpSign; return true; }
                goto case Phase.NumberExpSign;
            case Phase.NumberExpSign:
                if (!IsDigit(b)) return false;
                c.Mode = Phase.NumberExp;
                c.Digits = 1;
                return true;
            case Phase.NumberExp:
                if (IsDigit(b)) return ++c.Digits <= JsonSchema.MaxExponentDigits;
                return EndNumber(ref c, b);
        }
        return false;
    }

    // "integer" is written without fraction or exponent.
    private static bool FractionAllowed(in Cursor c) => (c.ValueNode.Types & JsonTypes.Number) != 0;

    private bool EndNumber(ref Cursor c, byte b)
    {
        if (c.Depth == 0) return false; // a root number has nothing after it
        if (!EndValue(ref c)) return false;
        return Step(ref c, b);
    }

    private bool StepLiteral(ref Cursor c, byte b)
    {
        var values = LiteralValues(c.ValueNode);
        ulong next = 0;
        bool complete = false;
        for (int i = 0; i < values.Length; i++)
        {
            if ((c.Candidates & (1UL << i)) == 0) continue;
            var v = values[i];
            if (v.Length > c.Offset && v[c.Offset] == b) next |= 1UL << i;
            else if (v.Length == c.Offset) complete = true;
        }
        if (next != 0)
        {
            c.Candidates = next;
            c.Offset++;
            // A value that can only end here ends now, so a closing quote or bracket finishes it without a lookahead.
            if (LiteralOnlyEnds(c, values)) return EndValue(ref c);
            return true;
        }
        if (!complete || c.Depth == 0) return false;
        if (!EndValue(ref c)) return false;
        return Step(ref c, b);
    }

    private static bool LiteralOnlyEnds(in Cursor c, byte[][] values)
    {
        for (int i = 0; i < values.Length; i++)
            if ((c.Candidates & (1UL << i)) != 0 && values[i].Length != c.Offset) return false;
        return true;
    }

    private static bool Utf8Lead(ref Cursor c, byte b)
    {
        if (b < 0x80) return true;
        c.Utf8Lo = 0x80;
        c.Utf8Hi = 0xBF;
        switch (b)
        {
            case >= 0xC2 and <= 0xDF: c.Utf8Need = 1; return true;
            case 0xE0: c.Utf8Need = 2; c.Utf8Lo = 0xA0; return true;
            case 0xED: c.Utf8Need = 2; c.Utf8Hi = 0x9F; return true; // no UTF-8-encoded surrogates
            case >= 0xE1 and <= 0xEF: c.Utf8Need = 2; return true;
            case 0xF0: c.Utf8Need = 3; c.Utf8Lo = 0x90; return true;
            case >= 0xF1 and <= 0xF3: c.Utf8Need = 3; return true;
            case 0xF4: c.Utf8Need = 3; c.Utf8Hi = 0x8F; return true;
            default: return false;
        }
    }

    private static bool IsDigit(byte b) => b is >= (byte)'0' and <= (byte)'9';
    private static bool IsHex(byte b) => IsDigit(b) || b is >= (byte)'a' and <= (byte)'f' || b is >= (byte)'A' and <= (byte)'F';
}
