using System.Text;
using System.Text.Json;

namespace SharpSeek.Tokenizer;

/// <summary>Token ids as a JSON array (<c>[1,2,3]</c>), the exchange format of the CLI and of tool output.</summary>
public static class TokenIdList
{
    public static string ToJson(ReadOnlySpan<int> ids)
    {
        var sb = new StringBuilder(ids.Length * 7 + 2);
        sb.Append('[');
        for (int i = 0; i < ids.Length; i++)
        {
            if (i > 0)
                sb.Append(',');
            sb.Append(ids[i]);
        }
        return sb.Append(']').ToString();
    }

    /// <summary>Parses a JSON array of integers.</summary>
    /// <exception cref="FormatException">The text is not a JSON array of 32-bit integers; the message says where.</exception>
    public static int[] Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new FormatException($"expected a JSON array of token ids: {e.Message}", e);
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Array)
                throw new FormatException($"expected a JSON array of token ids, got a JSON {document.RootElement.ValueKind.ToString().ToLowerInvariant()}");
            var ids = new int[document.RootElement.GetArrayLength()];
            int i = 0;
            foreach (JsonElement element in document.RootElement.EnumerateArray())
            {
                if (element.ValueKind != JsonValueKind.Number || !element.TryGetInt32(out ids[i]))
                    throw new FormatException($"element {i} of the token id array is {element.GetRawText()}, not a 32-bit integer");
                i++;
            }
            return ids;
        }
    }
}
