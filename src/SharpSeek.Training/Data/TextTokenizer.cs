using System.Text;

namespace SharpSeek.Training.Data;

/// <summary>
/// Text → token ids, as training needs it: the ids, the vocabulary they fall in, and the id that separates documents
/// when they are packed into one stream. The BPE tokenizer plugs in through <see cref="DelegateTokenizer"/>.
/// </summary>
public interface ITextTokenizer
{
    int VocabularySize { get; }
    /// <summary>Written before every document (DeepSeek's begin-of-sentence token plays this role).</summary>
    int DocumentSeparator { get; }
    int[] Encode(string text);
}

/// <summary>Any text → ids function (e.g. the project's BPE tokenizer) with its vocabulary size and separator id.</summary>
public sealed class DelegateTokenizer(Func<string, int[]> encode, int vocabularySize, int documentSeparator) : ITextTokenizer
{
    public int VocabularySize => vocabularySize;
    public int DocumentSeparator => documentSeparator;
    public int[] Encode(string text) => encode(text);
}

/// <summary>The fallback: one token per UTF-8 byte (ids 0–255) and 256 as the document separator; vocabulary 257.</summary>
public sealed class ByteLevelTokenizer : ITextTokenizer
{
    public const int Separator = 256;
    public int VocabularySize => 257;
    public int DocumentSeparator => Separator;

    public int[] Encode(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var ids = new int[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) ids[i] = bytes[i];
        return ids;
    }

    /// <summary>Bytes back to text (the separator and ids above 255 are dropped).</summary>
    public static string Decode(IEnumerable<int> ids) => Encoding.UTF8.GetString(ids.Where(i => i is >= 0 and < 256).Select(i => (byte)i).ToArray());
}
