namespace SharpSeek.Inference;

/// <summary>
/// Cuts a text stream at the first occurrence of any stop string. Text that could still turn into a stop string (a
/// suffix that is a prefix of one) is held back until the next piece decides it, so no part of a stop string is
/// ever emitted.
/// </summary>
internal sealed class StopStringMatcher
{
    private readonly string[] _stops;
    private readonly int _longest;
    private string _pending = "";

    public StopStringMatcher(IReadOnlyList<string> stops)
    {
        _stops = stops.Where(s => s.Length > 0).Distinct(StringComparer.Ordinal).ToArray();
        _longest = _stops.Length == 0 ? 0 : _stops.Max(s => s.Length);
    }

    public bool IsEmpty => _stops.Length == 0;

    /// <summary>The stop string that ended the text (the earliest in it), once one has.</summary>
    public string? Matched { get; private set; }

    /// <summary>Adds <paramref name="text"/>; returns what can be emitted and whether a stop string was reached.</summary>
    public string Push(string text, out bool stopped)
    {
        stopped = false;
        if (_stops.Length == 0) return text;
        if (text.Length == 0) return "";
        string buffer = _pending.Length == 0 ? text : _pending + text;
        int earliest = -1;
        string? matched = null;
        foreach (string stop in _stops)
        {
            int i = buffer.IndexOf(stop, StringComparison.Ordinal);
            if (i >= 0 && (earliest < 0 || i < earliest)) (earliest, matched) = (i, stop);
        }
        if (earliest >= 0)
        {
            stopped = true;
            Matched = matched;
            _pending = "";
            return buffer[..earliest];
        }
        int hold = HeldBackLength(buffer);
        _pending = hold == 0 ? "" : buffer[^hold..];
        return hold == 0 ? buffer : buffer[..^hold];
    }

    /// <summary>The text held back when the stream ends without a stop.</summary>
    public string Flush()
    {
        string rest = _pending;
        _pending = "";
        return rest;
    }

    private int HeldBackLength(string buffer)
    {
        int max = Math.Min(_longest - 1, buffer.Length);
        for (int len = max; len > 0; len--)
        {
            var tail = buffer.AsSpan(buffer.Length - len);
            foreach (string stop in _stops)
                if (stop.Length > len && stop.AsSpan(0, len).SequenceEqual(tail)) return len;
        }
        return 0;
    }
}
