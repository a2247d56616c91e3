namespace SharpSeek.Tokenizer;

/// <summary>
/// The text holds a byte that the vocabulary has no single-byte token for, so it cannot be encoded. Only incomplete
/// vocabularies (a hand-made or truncated tokenizer.json, a GGUF vocabulary missing byte tokens) do this. It is an
/// <see cref="InvalidOperationException"/> so existing callers that catch that keep working; catch this type to tell it
/// apart from a programming error.
/// </summary>
public sealed class TextNotEncodableException(string message) : InvalidOperationException(message);
