using System.Runtime.InteropServices;
using System.Text;
using SharpSeek.Tokenizer.Chat;
using SharpSeek.Tokenizer.PreTokenization;

namespace SharpSeek.Tokenizer.Training;

/// <summary>Settings for <see cref="ByteLevelBpeTrainer"/>.</summary>
public sealed class BpeTrainerOptions
{
    /// <summary>DeepSeek's chat and tool control tokens, reserved by default so trained models can use the same templates.</summary>
    public static IReadOnlyList<string> DeepSeekSpecialTokens { get; } =
    [
        DeepSeekTokens.BeginOfSentence, DeepSeekTokens.EndOfSentence, "<｜▁pad▁｜>", DeepSeekTokens.User, DeepSeekTokens.Assistant,
        DeepSeekTokens.ThinkBegin, DeepSeekTokens.ThinkEnd, DeepSeekTokens.ToolCallsBegin, DeepSeekTokens.ToolCallsEnd,
        DeepSeekTokens.ToolCallBegin, DeepSeekTokens.ToolCallEnd, DeepSeekTokens.ToolOutputsBegin, DeepSeekTokens.ToolOutputsEnd,
        DeepSeekTokens.ToolOutputBegin, DeepSeekTokens.ToolOutputEnd, DeepSeekTokens.ToolSeparator,
    ];

    /// <summary>Total vocabulary size: special tokens + the 256 byte tokens + learned merges.</summary>
    public int VocabularySize { get; init; } = 4096;

    /// <summary>Tokens given the first ids and never split or learned from (they are cut out of the corpus first).</summary>
    public IReadOnlyList<string> SpecialTokens { get; init; } = DeepSeekSpecialTokens;

    /// <summary>How text is split into words before BPE; written into tokenizer.json. Default: DeepSeek-V3's.</summary>
    public PreTokenizer PreTokenizer { get; init; } = PreTokenizer.DeepSeekV3;

    /// <summary>Pairs seen fewer times than this are not merged (training may stop below the target size).</summary>
    public int MinPairFrequency { get; init; } = 2;

    /// <summary>BOS token (must be one of <see cref="SpecialTokens"/>); default the first special token.</summary>
    public string? BosToken { get; init; }

    /// <summary>EOS token; default the second special token.</summary>
    public string? EosToken { get; init; }

    /// <summary>Padding token; default the third special token.</summary>
    public string? PadToken { get; init; }

    /// <summary>Whether encoding with special tokens prepends BOS (tokenizer_config <c>add_bos_token</c>).</summary>
    public bool AddBosToken { get; init; } = true;

    /// <summary>A Jinja chat template to store in tokenizer_config.json.</summary>
    public string? ChatTemplate { get; init; }
}

/// <summary>
/// Trains a byte-level BPE vocabulary: text is split into words exactly as the resulting tokenizer will split it,
/// words are counted, and the most frequent adjacent pair of symbols is merged repeatedly until the vocabulary has
/// the requested size. Feed text with <see cref="AddText"/> / <see cref="AddFile"/>, then call <see cref="Train"/>.
/// </summary>
/// <remarks>
/// Merging is incremental: each word's pairs are indexed, and a merge rewrites only the words that contain the pair
/// and updates the pair counts by their difference, with a lazily-invalidated max-heap picking the next pair. Ties
/// in frequency go to the pair whose tokens have the smaller ids (earlier tokens), which makes training deterministic.
/// </remarks>
public sealed class ByteLevelBpeTrainer
{
    private readonly BpeTrainerOptions _options;
    private readonly Dictionary<string, long> _wordCounts = new(StringComparer.Ordinal);
    private readonly AddedTokenMatcher _specialMatcher;
    private readonly List<(int Start, int Length)> _pieces = [];

    public ByteLevelBpeTrainer(BpeTrainerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(options.SpecialTokens);
        ArgumentNullException.ThrowIfNull(options.PreTokenizer);
        if (options.SpecialTokens.Any(string.IsNullOrEmpty))
            throw new ArgumentException("special tokens must be non-empty strings", nameof(options));
        if (options.SpecialTokens.Distinct(StringComparer.Ordinal).Count() != options.SpecialTokens.Count)
            throw new ArgumentException("special tokens must be distinct", nameof(options));
        int minimum = options.SpecialTokens.Count + 256;
        if (options.VocabularySize < minimum)
            throw new ArgumentOutOfRangeException(nameof(options), options.VocabularySize,
                $"the vocabulary must hold the {options.SpecialTokens.Count} special tokens and 256 byte tokens (at least {minimum})");
        if (options.MinPairFrequency < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.MinPairFrequency, "MinPairFrequency must be at least 1");
        foreach (string? named in new[] { options.BosToken, options.EosToken, options.PadToken })
        {
            if (named is not null && !options.SpecialTokens.Contains(named))
                throw new ArgumentException($"'{named}' is not one of the special tokens", nameof(options));
        }
        _options = options;
        _specialMatcher = new AddedTokenMatcher(options.SpecialTokens.Select((t, i) => new AddedToken(i, t, true)));
    }

    /// <summary>Number of distinct words counted so far.</summary>
    public int DistinctWords => _wordCounts.Count;

    /// <summary>Adds text to the corpus (special-token strings in it are skipped, not learned).</summary>
    public void AddText(ReadOnlySpan<char> text)
    {
        int position = 0;
        while (position < text.Length && _specialMatcher.TryFindNext(text, position, out int start, out AddedToken? token))
        {
            CountWords(text[position..start]);
            position = start + token.Content.Length;
        }
        CountWords(text[position..]);
    }

    /// <summary>Adds a UTF-8 text file, read in blocks of lines.</summary>
    public void AddFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var reader = new StreamReader(path, Encoding.UTF8);
        var block = new StringBuilder();
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            block.Append(line).Append('\n');
            if (block.Length >= 1 << 16)
            {
                AddText(block.ToString());
                block.Clear();
            }
        }
        AddText(block.ToString());
    }

    private void CountWords(ReadOnlySpan<char> text)
    {
        if (text.IsEmpty)
            return;
        _pieces.Clear();
        _options.PreTokenizer.Split(text, _pieces);
        var lookup = _wordCounts.GetAlternateLookup<ReadOnlySpan<char>>();
        foreach (var (start, length) in _pieces)
        {
            ref long count = ref CollectionsMarshal.GetValueRefOrAddDefault(lookup, text.Slice(start, length), out _);
            count++;
        }
    }

    /// <summary>Learns the merges.</summary>
    public TrainedBpeVocabulary Train()
    {
        int specialCount = _options.SpecialTokens.Count;
        var tokens = new List<string>(_options.VocabularySize);
        tokens.AddRange(_options.SpecialTokens);
        for (int b = 0; b < 256; b++)
            tokens.Add(ByteLevelAlphabet.ToChar((byte)b).ToString());
        var tokenIds = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = specialCount; i < tokens.Count; i++)
            tokenIds[tokens[i]] = i;

        // Words as symbol ids (one per UTF-8 byte to start with).
        var words = new List<int[]>(_wordCounts.Count);
        var counts = new List<long>(_wordCounts.Count);
        foreach (var (word, count) in _wordCounts)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(word);
            if (bytes.Length < 2)
                continue; // a single byte can never take part in a merge
            var symbols = new int[bytes.Length];
            for (int i = 0; i < bytes.Length; i++)
                symbols[i] = specialCount + bytes[i];
            words.Add(symbols);
            counts.Add(count);
        }

        int[] lengths = words.Select(w => w.Length).ToArray();
        var pairCounts = new Dictionary<long, long>();
        var pairWords = new Dictionary<long, List<int>>();
        for (int w = 0; w < words.Count; w++)
        {
            int[] symbols = words[w];
            for (int i = 0; i + 1 < symbols.Length; i++)
            {
                long pair = Pair(symbols[i], symbols[i + 1]);
                CollectionsMarshal.GetValueRefOrAddDefault(pairCounts, pair, out _) += counts[w];
                AddWord(pairWords, pair, w);
            }
        }

        var heap = new PriorityQueue<long, (long Count, long Pair)>(pairCounts.Count, PairPriority.Instance);
        foreach (var (pair, count) in pairCounts)
            heap.Enqueue(pair, (count, pair));

        var merges = new List<(string, string)>();
        var lastVisit = new int[words.Count];
        int mergeNumber = 0;
        var changed = new Dictionary<long, long>();
        while (tokens.Count < _options.VocabularySize && heap.TryDequeue(out long best, out var priority))
        {
            long current = pairCounts.GetValueOrDefault(best);
            if (current != priority.Count)
                continue; // stale entry; the current count has its own entry
            if (current < _options.MinPairFrequency)
                break;

            int left = (int)(best >> 32), right = (int)(uint)best;
            string mergedText = tokens[left] + tokens[right];
            if (!tokenIds.TryGetValue(mergedText, out int merged))
            {
                merged = tokens.Count;
                tokens.Add(mergedText);
                tokenIds[mergedText] = merged;
            }
            merges.Add((tokens[left], tokens[right]));
            mergeNumber++;

            changed.Clear();
            foreach (int w in pairWords.TryGetValue(best, out List<int>? containing) ? containing : [])
            {
                if (lastVisit[w] == mergeNumber)
                    continue; // listed twice
                lastVisit[w] = mergeNumber;
                Span<int> symbols = words[w].AsSpan(0, lengths[w]);
                if (!Contains(symbols, left, right))
                    continue; // stale index entry
                long weight = counts[w];
                for (int i = 0; i + 1 < symbols.Length; i++)
                    Accumulate(changed, Pair(symbols[i], symbols[i + 1]), -weight);
                int length = MergeInPlace(symbols, left, right, merged);
                lengths[w] = length;
                Span<int> rewritten = symbols[..length];
                for (int i = 0; i + 1 < rewritten.Length; i++)
                {
                    long pair = Pair(rewritten[i], rewritten[i + 1]);
                    Accumulate(changed, pair, weight);
                    if (rewritten[i] == merged || rewritten[i + 1] == merged)
                        AddWord(pairWords, pair, w);
                }
            }
            pairWords.Remove(best);
            foreach (var (pair, delta) in changed)
            {
                if (delta == 0)
                    continue;
                ref long count = ref CollectionsMarshal.GetValueRefOrAddDefault(pairCounts, pair, out _);
                count += delta;
                if (count > 0)
                    heap.Enqueue(pair, (count, pair));
                else
                    pairCounts.Remove(pair);
            }
        }

        return new TrainedBpeVocabulary(tokens.ToArray(), merges, _options);
    }

    private static long Pair(int left, int right) => ((long)left << 32) | (uint)right;

    private static void Accumulate(Dictionary<long, long> changes, long pair, long delta) =>
        CollectionsMarshal.GetValueRefOrAddDefault(changes, pair, out _) += delta;

    private static void AddWord(Dictionary<long, List<int>> index, long pair, int word)
    {
        ref List<int>? list = ref CollectionsMarshal.GetValueRefOrAddDefault(index, pair, out _);
        list ??= [];
        if (list.Count == 0 || list[^1] != word)
            list.Add(word);
    }

    private static bool Contains(ReadOnlySpan<int> symbols, int left, int right)
    {
        for (int i = 0; i + 1 < symbols.Length; i++)
        {
            if (symbols[i] == left && symbols[i + 1] == right)
                return true;
        }
        return false;
    }

    /// <summary>
    /// Replaces each (left, right) occurrence, left to right and non-overlapping, by <paramref name="merged"/>,
    /// compacting the word in place; returns its new length.
    /// </summary>
    private static int MergeInPlace(Span<int> symbols, int left, int right, int merged)
    {
        int write = 0;
        for (int read = 0; read < symbols.Length; read++)
        {
            if (read + 1 < symbols.Length && symbols[read] == left && symbols[read + 1] == right)
            {
                symbols[write++] = merged;
                read++;
            }
            else
            {
                symbols[write++] = symbols[read];
            }
        }
        return write;
    }

    /// <summary>Most frequent first; among equals, the pair of earlier tokens.</summary>
    private sealed class PairPriority : IComparer<(long Count, long Pair)>
    {
        public static readonly PairPriority Instance = new();

        public int Compare((long Count, long Pair) x, (long Count, long Pair) y)
        {
            int byCount = y.Count.CompareTo(x.Count);
            return byCount != 0 ? byCount : x.Pair.CompareTo(y.Pair);
        }
    }
}
