using System.Text;
using System.Text.Json;

namespace SharpSeek.Training.Data;

/// <summary>
/// Cuts a corpus file into documents, streaming (a file of any size is read in constant memory):
/// <list type="bullet">
/// <item><see cref="CorpusFormat.Text"/>: a document is a run of non-blank lines; lines that are empty or only
/// whitespace separate documents. Its lines are joined with '\n' (CRLF files give the same documents as LF files). A
/// paragraph longer than <see cref="MaxDocumentChars"/> characters is cut after the line that crosses the limit, so a
/// file without blank lines cannot make one unbounded document.</item>
/// <item><see cref="CorpusFormat.JsonLines"/>: every non-blank line is a JSON object; its <c>"text"</c> string is the
/// document (an empty one is skipped). Other fields are ignored.</item>
/// </list>
/// Files must be UTF-8 (a byte-order mark is skipped); an invalid byte sequence or a NUL character is an
/// <see cref="InvalidDataException"/> naming the file.
/// </summary>
public static class CorpusDocuments
{
    public const int MaxDocumentChars = 1 << 20;

    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static IEnumerable<string> Read(CorpusFile file) => file.Format == CorpusFormat.JsonLines ? JsonLines(file) : Paragraphs(file);

    private static IEnumerable<string> Paragraphs(CorpusFile file)
    {
        var paragraph = new StringBuilder();
        foreach (var (line, _) in Lines(file))
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                if (paragraph.Length > 0) yield return Take(paragraph);
                continue;
            }
            if (paragraph.Length > 0) paragraph.Append('\n');
            paragraph.Append(line);
            if (paragraph.Length >= MaxDocumentChars) yield return Take(paragraph);
        }
        if (paragraph.Length > 0) yield return Take(paragraph);
    }

    private static string Take(StringBuilder b)
    {
        string s = b.ToString();
        b.Clear();
        return s;
    }

    private static IEnumerable<string> JsonLines(CorpusFile file)
    {
        foreach (var (line, number) in Lines(file))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            string? text;
            try
            {
                using var json = JsonDocument.Parse(line);
                if (json.RootElement.ValueKind != JsonValueKind.Object || !json.RootElement.TryGetProperty("text", out var value) || value.ValueKind != JsonValueKind.String)
                    throw new InvalidDataException($"{file.FullPath}:{number}: a JSON Lines corpus needs an object with a \"text\" string on every line");
                text = value.GetString();
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{file.FullPath}:{number}: not a JSON object ({e.Message})", e);
            }
            if (!string.IsNullOrEmpty(text)) yield return text;
        }
    }

    /// <summary>The file's lines with their 1-based numbers.</summary>
    private static IEnumerable<(string Line, long Number)> Lines(CorpusFile file)
    {
        using var reader = new StreamReader(file.FullPath, s_strictUtf8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
        long number = 0;
        while (true)
        {
            string? line;
            try
            {
                line = reader.ReadLine();
            }
            catch (DecoderFallbackException e)
            {
                throw new InvalidDataException($"{file.FullPath}: not UTF-8 text (an invalid byte sequence after line {number}); is it a binary file?", e);
            }
            if (line is null) yield break;
            number++;
            if (line.Contains('\0', StringComparison.Ordinal))
                throw new InvalidDataException($"{file.FullPath}:{number}: holds a NUL character; is it a binary file?");
            yield return (line, number);
        }
    }
}
