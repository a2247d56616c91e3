using System.Buffers;

namespace SharpSeek.Tokenizer;

/// <summary>
/// Finds added tokens in text, leftmost first and longest at a given start (the rule of both the HF Rust
/// tokenizers' Aho-Corasick matcher and transformers.js' trie splitter). A vectorized scan for the possible first
/// characters skips ordinary text, so text without '&lt;' costs almost nothing for DeepSeek's tokens.
/// </summary>
internal sealed class AddedTokenMatcher
{
    private readonly SearchValues<char> _firstChars;
    private readonly Dictionary<long, int> _edges = new();
    private readonly List<int> _terminal = [-1];
    private readonly AddedToken[] _tokens;

    public AddedTokenMatcher(IEnumerable<AddedToken> tokens)
    {
        _tokens = tokens.Where(t => t.Content.Length > 0).ToArray();
        var first = new HashSet<char>();
        for (int index = 0; index < _tokens.Length; index++)
        {
            string content = _tokens[index].Content;
            first.Add(content[0]);
            int node = 0;
            foreach (char c in content)
            {
                long key = ((long)node << 16) | c;
                if (!_edges.TryGetValue(key, out int child))
                {
                    child = _terminal.Count;
                    _terminal.Add(-1);
                    _edges[key] = child;
                }
                node = child;
            }
            _terminal[node] = index;
        }
        _firstChars = SearchValues.Create(first.ToArray());
    }

    public bool IsEmpty => _tokens.Length == 0;

    /// <summary>Finds the next added token at or after <paramref name="from"/>.</summary>
    public bool TryFindNext(ReadOnlySpan<char> text, int from, out int start, out AddedToken token)
    {
        int position = from;
        while (position < text.Length)
        {
            int k = text[position..].IndexOfAny(_firstChars);
            if (k < 0)
                break;
            position += k;
            int node = 0;
            int best = -1;
            for (int j = position; j < text.Length; j++)
            {
                if (!_edges.TryGetValue(((long)node << 16) | text[j], out node))
                    break;
                if (_terminal[node] >= 0)
                    best = _terminal[node];
            }
            if (best >= 0)
            {
                start = position;
                token = _tokens[best];
                return true;
            }
            position++;
        }
        start = text.Length;
        token = null!;
        return false;
    }
}
