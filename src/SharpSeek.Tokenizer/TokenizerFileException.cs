namespace SharpSeek.Tokenizer;

/// <summary>A tokenizer file (tokenizer.json, tokenizer_config.json or GGUF vocabulary) is malformed or unsupported.</summary>
public sealed class TokenizerFileException : FormatException
{
    public TokenizerFileException(string message)
        : base(message)
    {
    }

    public TokenizerFileException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
