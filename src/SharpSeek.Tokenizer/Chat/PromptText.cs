using System.Text;

namespace SharpSeek.Tokenizer.Chat;

/// <summary>
/// A piece of a rendered prompt: the template's own text (its markers become control tokens) or text that came from a
/// message or a tool definition (<see cref="IsContent"/>: encoded as plain text, so it can never spell a control token).
/// </summary>
public readonly record struct PromptSegment(string Text, bool IsContent);

/// <summary>Builds a rendered prompt as segments, merging neighbours of the same kind.</summary>
public sealed class PromptText
{
    private readonly List<PromptSegment> _segments = [];
    private readonly StringBuilder _current = new();
    private bool _currentIsContent;

    public IReadOnlyList<PromptSegment> Segments
    {
        get
        {
            Cut();
            return _segments;
        }
    }

    /// <summary>Template text.</summary>
    public PromptText Append(string? text) => Add(text, content: false);

    public PromptText Append(char c) => Add(c.ToString(), content: false);

    /// <summary>Text from a message (or a tool definition): never parsed for control tokens.</summary>
    public PromptText AppendContent(string? text) => Add(text, content: true);

    public PromptText AppendSegments(IEnumerable<PromptSegment> segments)
    {
        foreach (var s in segments) Add(s.Text, s.IsContent);
        return this;
    }

    private PromptText Add(string? text, bool content)
    {
        if (string.IsNullOrEmpty(text)) return this;
        if (content != _currentIsContent) Cut();
        _currentIsContent = content;
        _current.Append(text);
        return this;
    }

    private void Cut()
    {
        if (_current.Length == 0) return;
        _segments.Add(new PromptSegment(_current.ToString(), _currentIsContent));
        _current.Clear();
    }

    public override string ToString()
    {
        var all = new StringBuilder();
        foreach (var s in Segments) all.Append(s.Text);
        return all.ToString();
    }
}
