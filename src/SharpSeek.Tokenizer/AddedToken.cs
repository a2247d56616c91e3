namespace SharpSeek.Tokenizer;

/// <summary>
/// A token matched as a whole in the input before pre-tokenization (tokenizer.json <c>added_tokens</c>; GGUF
/// CONTROL / USER_DEFINED tokens). <see cref="Special"/> ones are control tokens: <c>skipSpecialTokens</c> drops them
/// when decoding, and they are only recognised in text when special-token parsing is on.
/// </summary>
/// <param name="Id">Token id.</param>
/// <param name="Content">The literal text of the token.</param>
/// <param name="Special">Whether it is a control token.</param>
/// <param name="LStrip">Whether whitespace before it is removed from the input.</param>
/// <param name="RStrip">Whether whitespace after it is removed from the input.</param>
public sealed record AddedToken(int Id, string Content, bool Special, bool LStrip = false, bool RStrip = false);
