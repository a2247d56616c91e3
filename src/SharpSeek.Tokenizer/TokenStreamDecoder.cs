using System.Text;

namespace SharpSeek.Tokenizer;

/// <summary>
/// Incremental detokenizer for streaming generation. Byte-level tokens often end in the middle of a UTF-8
/// character (a CJK character or an emoji is commonly split over two or three tokens); this keeps the incomplete
/// bytes back and returns only whole characters, never half of a UTF-8 sequence or half of a surrogate pair.
/// The concatenation of everything returned, plus <see cref="Flush"/>, equals
/// <see cref="ByteLevelBpeTokenizer.Decode"/> of all the ids.
/// </summary>
public sealed class TokenStreamDecoder
{
    private readonly ByteLevelBpeTokenizer _tokenizer;
    private readonly bool _skipSpecialTokens;
    // Replacement (not exception) fallback, like a one-shot decode; System.Text.Decoder keeps partial sequences
    // between calls and resolves them exactly as decoding the concatenated bytes would.
    private readonly Decoder _utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false).GetDecoder();
    private char[] _chars = new char[64];

    internal TokenStreamDecoder(ByteLevelBpeTokenizer tokenizer, bool skipSpecialTokens)
    {
        _tokenizer = tokenizer;
        _skipSpecialTokens = skipSpecialTokens;
    }

    /// <summary>Adds one token; returns the text that is now complete (possibly empty).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The id is outside the vocabulary.</exception>
    public string Append(int tokenId)
    {
        ReadOnlySpan<byte> bytes = _tokenizer.TokenBytes(tokenId);
        if (_skipSpecialTokens && _tokenizer.SkipWhenDecoding(tokenId))
            return string.Empty;
        return Convert(bytes, flush: false);
    }

    /// <summary>Adds several tokens; returns the text that is now complete.</summary>
    public string Append(ReadOnlySpan<int> tokenIds)
    {
        var sb = new StringBuilder();
        foreach (int id in tokenIds)
            sb.Append(Append(id));
        return sb.ToString();
    }

    /// <summary>Ends the stream: pending bytes of an unfinished character come out as U+FFFD.</summary>
    public string Flush() => Convert(ReadOnlySpan<byte>.Empty, flush: true);

    private string Convert(ReadOnlySpan<byte> bytes, bool flush)
    {
        // GetCharCount leaves the decoder state alone; GetChars then consumes the bytes and keeps an unfinished
        // character's bytes for the next call.
        int needed = _utf8.GetCharCount(bytes, flush);
        if (_chars.Length < needed)
            _chars = new char[Math.Max(needed, _chars.Length * 2)];
        int written = _utf8.GetChars(bytes, _chars, flush);
        return written == 0 ? string.Empty : new string(_chars, 0, written);
    }
}
