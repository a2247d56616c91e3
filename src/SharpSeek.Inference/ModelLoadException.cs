namespace SharpSeek.Inference;

/// <summary>
/// The model to serve could not be loaded: a missing path, a malformed or truncated file, no tokenizer, a tokenizer
/// that does not fit the weights, or contradictory options. The message is meant for the user as it stands.
/// </summary>
public sealed class ModelLoadException : Exception
{
    public ModelLoadException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}
