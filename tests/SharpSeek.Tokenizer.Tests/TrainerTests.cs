using System.Text;
using System.Text.Json;
using SharpSeek.Tokenizer.PreTokenization;
using SharpSeek.Tokenizer.Training;

namespace SharpSeek.Tokenizer.Tests;

/// <summary>
/// The BPE trainer on a small corpus (the 10 MB / 4k-vocab timing is in the benchmark): the written tokenizer.json
/// loads back, round-trips text, and tokenizes identically in transformers.js — for every pre-tokenizer preset, which
/// also checks our hand-compiled Llama 3, Qwen2, GPT-2 and DeepSeek LLM patterns against JavaScript's regex engine.
/// </summary>
public sealed class TrainerTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "sharpseek-bpe-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
            Directory.Delete(_directory, recursive: true);
    }

    private static ByteLevelBpeTrainer TrainerOn(int corpusChars, BpeTrainerOptions options, int seed = 1)
    {
        var trainer = new ByteLevelBpeTrainer(options);
        foreach (string document in MixedTextCorpus.Documents(corpusChars, seed))
            trainer.AddText(document);
        return trainer;
    }

    [Fact]
    public void TrainedTokenizerLoadsBackAndRoundTrips()
    {
        var options = new BpeTrainerOptions { VocabularySize = 1200 };
        TrainedBpeVocabulary vocabulary = TrainerOn(300_000, options).Train();
        Assert.Equal(1200, vocabulary.Tokens.Count);
        Assert.Equal(BpeTrainerOptions.DeepSeekSpecialTokens, vocabulary.Tokens.Take(BpeTrainerOptions.DeepSeekSpecialTokens.Count));
        vocabulary.Save(_directory);

        ByteLevelBpeTokenizer tokenizer = ByteLevelBpeTokenizer.FromDirectory(_directory);
        Assert.Equal(1200, tokenizer.VocabularySize);
        Assert.Equal(0, tokenizer.BosTokenId);
        Assert.Equal(1, tokenizer.EosTokenId);
        Assert.Same(PreTokenizer.DeepSeekV3, tokenizer.PreTokenizer);

        foreach (string text in MixedTextCorpus.ParityStrings(BpeTrainerOptions.DeepSeekSpecialTokens, seed: 8).Where(ReferenceParityTests.IsValidUnicode))
        {
            int[] ids = tokenizer.Encode(text);
            Assert.All(ids, id => Assert.InRange(id, 0, 1199));
            Assert.Equal(text, tokenizer.Decode(ids));
        }
        // On unseen text of the same kind, the learned merges must compress well below one token per byte.
        long bytes = 0, tokens = 0;
        foreach (string document in MixedTextCorpus.Documents(100_000, seed: 99))
        {
            bytes += Encoding.UTF8.GetByteCount(document);
            tokens += tokenizer.Encode(document).Length;
        }
        Assert.True(tokens < bytes * 0.55, $"{tokens} tokens for {bytes} bytes: the merges do not compress");
        // English words repeat most, so they compress much further than the random CJK of the synthetic corpus.
        var rng = new Random(5);
        string english = string.Join(" ", Enumerable.Range(0, 300).Select(_ => MixedTextCorpus.EnglishParagraph(rng, 3)));
        int englishTokens = tokenizer.Encode(english).Length;
        Assert.True(englishTokens < english.Length * 0.3, $"{englishTokens} tokens for {english.Length} English characters");
        Assert.Equal([0, tokenizer.TokenToId("<｜User｜>")!.Value], tokenizer.Encode("<｜User｜>", addSpecialTokens: true));
    }

    [Fact]
    public void TrainingIsDeterministicAndSkipsSpecialTokenText()
    {
        var options = new BpeTrainerOptions { VocabularySize = 600, SpecialTokens = ["<s>", "</s>", "<pad>"] };
        var first = new ByteLevelBpeTrainer(options);
        var second = new ByteLevelBpeTrainer(options);
        foreach (var trainer in new[] { first, second })
        {
            foreach (string document in MixedTextCorpus.Documents(60_000, seed: 4))
                trainer.AddText(document + string.Concat(Enumerable.Repeat("<pad>", 50)));
        }
        TrainedBpeVocabulary a = first.Train(), b = second.Train();
        Assert.Equal(a.Merges, b.Merges);
        Assert.Equal(a.Tokens, b.Tokens);
        // "<pad>" was cut out of the corpus, so no merge learned "<pad" although it appeared 50 times per document.
        Assert.DoesNotContain(a.Tokens.Skip(3), t => t.Contains("pad>", StringComparison.Ordinal));
    }

    [Fact]
    public void IncrementalTrainingLearnsTheSameMergesAsRecountingEveryStep()
    {
        var options = new BpeTrainerOptions { VocabularySize = 420, SpecialTokens = ["<s>"], MinPairFrequency = 2 };
        var trainer = new ByteLevelBpeTrainer(options);
        var words = new Dictionary<string, long>();
        var pieces = new List<(int Start, int Length)>();
        foreach (string document in MixedTextCorpus.Documents(30_000, seed: 6))
        {
            trainer.AddText(document);
            pieces.Clear();
            options.PreTokenizer.Split(document, pieces);
            foreach (var (start, length) in pieces)
                words[document.Substring(start, length)] = words.GetValueOrDefault(document.Substring(start, length)) + 1;
        }
        TrainedBpeVocabulary trained = trainer.Train();

        // Naive reference: recount every pair each step, merge the most frequent (ties: smaller ids).
        var tokens = new List<string> { "<s>" };
        tokens.AddRange(Enumerable.Range(0, 256).Select(b => ByteLevelAlphabet.ToChar((byte)b).ToString()));
        var ids = tokens.Select((t, i) => (t, i)).Skip(1).ToDictionary(x => x.t, x => x.i);
        var symbols = words.Select(w => (Symbols: Encoding.UTF8.GetBytes(w.Key).Select(b => 1 + b).ToList(), Count: w.Value)).ToList();
        var merges = new List<(string, string)>();
        while (tokens.Count < options.VocabularySize)
        {
            var counts = new Dictionary<(int, int), long>();
            foreach (var (word, count) in symbols)
                for (int i = 0; i + 1 < word.Count; i++)
                    counts[(word[i], word[i + 1])] = counts.GetValueOrDefault((word[i], word[i + 1])) + count;
            if (counts.Count == 0)
                break;
            var best = counts.OrderByDescending(c => c.Value).ThenBy(c => c.Key.Item1).ThenBy(c => c.Key.Item2).First();
            if (best.Value < options.MinPairFrequency)
                break;
            var (left, right) = best.Key;
            string text = tokens[left] + tokens[right];
            if (!ids.TryGetValue(text, out int merged))
            {
                merged = tokens.Count;
                tokens.Add(text);
                ids[text] = merged;
            }
            merges.Add((tokens[left], tokens[right]));
            foreach (var (word, _) in symbols)
                for (int i = 0; i + 1 < word.Count; i++)
                    if (word[i] == left && word[i + 1] == right)
                    {
                        word[i] = merged;
                        word.RemoveAt(i + 1);
                    }
        }
        Assert.Equal(merges, trained.Merges);
        Assert.Equal(tokens, trained.Tokens);
    }

    [Fact]
    public void InvalidOptionsAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ByteLevelBpeTrainer(new BpeTrainerOptions { VocabularySize = 100 }));
        Assert.Throws<ArgumentException>(() => new ByteLevelBpeTrainer(new BpeTrainerOptions { SpecialTokens = ["<a>", "<a>"] }));
        Assert.Throws<ArgumentException>(() => new ByteLevelBpeTrainer(new BpeTrainerOptions { SpecialTokens = ["<a>"], BosToken = "<b>" }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ByteLevelBpeTrainer(new BpeTrainerOptions { MinPairFrequency = 0 }));
    }

    [Theory]
    [InlineData("deepseek-v3")]
    [InlineData("llama3")]
    [InlineData("qwen2")]
    [InlineData("gpt2")]
    [InlineData("deepseek-llm")]
    public void TransformersJsReadsTheFileAndTokenizesIdentically(string preTokenizerName)
    {
        var options = new BpeTrainerOptions
        {
            VocabularySize = 700,
            PreTokenizer = PreTokenizer.FromGgufName(preTokenizerName),
            SpecialTokens = ["<|bos|>", "<|eos|>", "<|pad|>", "<|user|>"],
        };
        TrainedBpeVocabulary vocabulary = TrainerOn(120_000, options, seed: 2).Train();
        vocabulary.Save(_directory);
        ByteLevelBpeTokenizer tokenizer = ByteLevelBpeTokenizer.FromDirectory(_directory);
        Assert.Same(options.PreTokenizer, tokenizer.PreTokenizer);

        List<string> corpus = MixedTextCorpus.ParityStrings(["<|user|>", "<|eos|>"], seed: 17).Take(700).ToList();
        IReadOnlyList<JsonElement> responses = NodeOracle.Run(corpus.Select(NodeOracle.EncodeRequest).ToArray(),
            "--tokenizer-json", Path.Combine(_directory, "tokenizer.json"), "--tokenizer-config", Path.Combine(_directory, "tokenizer_config.json"));

        var failures = new StringBuilder();
        int mismatches = 0;
        for (int i = 0; i < corpus.Count; i++)
        {
            int[] expected = NodeOracle.Ids(responses[i]);
            int[] ours = tokenizer.Encode(corpus[i]);
            if (!expected.AsSpan().SequenceEqual(ours) && ++mismatches <= 5)
                failures.AppendLine($"#{i} {NodeOracle.Quote(corpus[i].Length > 100 ? corpus[i][..100] : corpus[i])}\n  js:   [{string.Join(",", expected.Take(30))}]\n  ours: [{string.Join(",", ours.Take(30))}]");
        }
        Assert.True(mismatches == 0, $"{preTokenizerName}: {mismatches} of {corpus.Count} differ:\n{failures}");
    }
}
