namespace SharpSeek.Tokenizer;

/// <summary>
/// GPT-2's reversible byte-to-character mapping used by byte-level BPE vocabularies: printable Latin-1 bytes map
/// to themselves, the other 68 bytes (controls, space, 0x7F-0xA0, 0xAD) to U+0100.. in byte order, so every vocab
/// entry is printable text (a space becomes 'Ġ', a newline 'Ċ').
/// </summary>
public static class ByteLevelAlphabet
{
    private static readonly char[] s_byteToChar = BuildByteToChar();
    private static readonly short[] s_charToByte = BuildCharToByte();

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is (>= '!' and <= '~') or (>= 0xA1 and <= 0xAC) or (>= 0xAE and <= 0xFF);
            map[b] = printable ? (char)b : (char)next++;
        }
        return map;
    }

    private static short[] BuildCharToByte()
    {
        var map = new short[324];
        Array.Fill(map, (short)-1);
        for (int b = 0; b < 256; b++)
            map[s_byteToChar[b]] = (short)b;
        return map;
    }

    /// <summary>The character standing for <paramref name="value"/>.</summary>
    public static char ToChar(byte value) => s_byteToChar[value];

    /// <summary>The byte a character stands for, or -1 when it is not one of the 256 alphabet characters.</summary>
    public static int ToByte(char c) => c < s_charToByte.Length ? s_charToByte[c] : -1;

    /// <summary>Maps bytes to their alphabet characters (the token text a byte sequence has in the vocab).</summary>
    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        var chars = new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++)
            chars[i] = s_byteToChar[bytes[i]];
        return new string(chars);
    }

    /// <summary>
    /// Appends the bytes a vocab token stands for. A character outside the alphabet (only special tokens have
    /// them) contributes its own UTF-8 bytes, as tokenizers' ByteLevel decoder does.
    /// </summary>
    public static void Decode(ReadOnlySpan<char> token, List<byte> output)
    {
        Span<byte> utf8 = stackalloc byte[4];
        for (int i = 0; i < token.Length; i++)
        {
            int b = ToByte(token[i]);
            if (b >= 0)
            {
                output.Add((byte)b);
                continue;
            }
            int width = char.IsHighSurrogate(token[i]) && i + 1 < token.Length && char.IsLowSurrogate(token[i + 1]) ? 2 : 1;
            int n = System.Text.Encoding.UTF8.GetBytes(token.Slice(i, width), utf8);
            for (int k = 0; k < n; k++)
                output.Add(utf8[k]);
            i += width - 1;
        }
    }
}
