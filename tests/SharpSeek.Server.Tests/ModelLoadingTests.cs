using SharpSeek.Inference;
using SharpSeek.Tensors;

namespace SharpSeek.Server.Tests;

/// <summary>
/// Loading checkpoints for serving (<see cref="ServedModel.Open"/>, <see cref="ModelChoice"/>): formats, tokenizer
/// resolution, the cache identity, the bundled-model default, and clear errors for bad input.
/// </summary>
public sealed class ModelLoadingTests
{
    /// <summary>Six greedy tokens through the engine; returns whether the prompt opened a reasoning block.</summary>
    private static async Task<bool> Generate(ServedModel served, ChatMode mode)
    {
        using var engine = new InferenceEngine(served.Model, served.Tokenizer, served.Identity,
            new EngineOptions { MaxContext = served.MaxPositions, SpeculativeDecoding = false });
        var prompt = engine.Prompts.Format([new PromptMessage("user", "What is 2 + 3?")], mode);
        var request = new GenerationRequest
        {
            PromptTokens = prompt.Tokens,
            StartsInReasoning = prompt.StartsInReasoning,
            MaxTokens = 6,
            IgnoreEndOfSequence = true,
            Sampling = new SamplingSettings { Temperature = 0 },
        };
        Assert.True(engine.TrySubmit(request, CancellationToken.None, out var stream));
        var result = await stream.Completion;
        Assert.Equal(6, result.Usage.CompletionTokens);
        return prompt.StartsInReasoning;
    }

    [Theory]
    [InlineData("BF16")]
    [InlineData("F8E4M3")]
    public async Task Safetensors_folder_with_its_tokenizer_json_serves_chat_and_the_r1_reasoner(string dtype)
    {
        string dir = TestCheckpoints.WriteSafetensors(Path.Combine(TestCheckpoints.TempDirectory(), "my-model"), weightType: Enum.Parse<DType>(dtype));
        using var served = ServedModel.Open(dir, maxPositions: 4096);
        Assert.Equal("my-model", served.Name);
        Assert.StartsWith("my-model-", served.Identity, StringComparison.Ordinal);
        Assert.Equal(1024, served.MaxPositions); // lowered to the config's max_position_embeddings
        Assert.Contains("tokenizer.json", served.Description, StringComparison.Ordinal);

        Assert.False(await Generate(served, ChatMode.Chat));
        // The tokenizer has <think>/</think>: the reasoner uses R1's template, which opens the reasoning block.
        Assert.True(await Generate(served, ChatMode.Reasoner));
    }

    [Fact]
    public async Task Gguf_file_uses_the_tokenizer_in_its_metadata()
    {
        string path = TestCheckpoints.WriteGguf(Path.Combine(TestCheckpoints.TempDirectory(), "tiny-r1.gguf"));
        using var served = ServedModel.Open(path, maxPositions: 512);
        Assert.Equal("tiny-r1", served.Name);
        Assert.Equal(512, served.MaxPositions);
        Assert.Contains("tokenizer.ggml", served.Description, StringComparison.Ordinal);
        Assert.Equal(ServedModel.CreateByteTokenizer().VocabularySize, served.Tokenizer.VocabularySize);
        Assert.True(await Generate(served, ChatMode.Reasoner));
    }

    [Fact]
    public async Task Gguf_without_think_tokens_falls_back_to_the_chat_template_for_the_reasoner()
    {
        string path = TestCheckpoints.WriteGguf(Path.Combine(TestCheckpoints.TempDirectory(), "plain.gguf"), embeddedDeepSeekTokenizer: false);
        using var served = ServedModel.Open(path, maxPositions: 256);
        Assert.False(await Generate(served, ChatMode.Reasoner));
    }

    [Fact]
    public void A_vocabulary_that_cannot_spell_the_chat_template_is_refused_at_load()
    {
        // llama.cpp's placeholder vocabulary in a 96-token model lacks most byte tokens: no prompt could be encoded.
        string path = TestCheckpoints.WriteGguf(Path.Combine(TestCheckpoints.TempDirectory(), "small-vocab.gguf"), embeddedDeepSeekTokenizer: false, vocabSize: 96);
        var e = Assert.Throws<ModelLoadException>(() => ServedModel.Open(path));
        Assert.Contains("cannot encode DeepSeek's chat template", e.Message, StringComparison.Ordinal);
        Assert.Contains("--tokenizer", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tokenizer_larger_than_the_model_vocabulary_is_refused()
    {
        string root = TestCheckpoints.TempDirectory();
        string path = TestCheckpoints.WriteGguf(Path.Combine(root, "narrow.gguf"), embeddedDeepSeekTokenizer: false, vocabSize: 200);
        string tokenizer = Path.Combine(root, "tokenizer.json");
        File.WriteAllBytes(tokenizer, ServedModel.ByteTokenizerFiles().TokenizerJson);
        var e = Assert.Throws<ModelLoadException>(() => ServedModel.Open(path, tokenizer));
        Assert.Contains("vocabulary of 200", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Explicit_tokenizer_wins_and_a_missing_one_is_named()
    {
        string root = TestCheckpoints.TempDirectory();
        string dir = TestCheckpoints.WriteSafetensors(Path.Combine(root, "bare"), withTokenizer: false);
        var missing = Assert.Throws<ModelLoadException>(() => ServedModel.Open(dir));
        Assert.Contains("no tokenizer.json", missing.Message, StringComparison.Ordinal);
        Assert.Contains("--tokenizer", missing.Message, StringComparison.Ordinal);

        string tokenizerDir = Path.Combine(root, "tok");
        Directory.CreateDirectory(tokenizerDir);
        File.WriteAllBytes(Path.Combine(tokenizerDir, "tokenizer.json"), ServedModel.ByteTokenizerFiles().TokenizerJson);
        using var served = ServedModel.Open(dir, tokenizerDir, maxPositions: 256);
        Assert.Contains(tokenizerDir, served.Description, StringComparison.Ordinal);

        var wrong = Assert.Throws<ModelLoadException>(() => ServedModel.Open(dir, Path.Combine(root, "nope.json")));
        Assert.Contains("--tokenizer", wrong.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Identity_follows_the_weights_not_the_load()
    {
        string root = TestCheckpoints.TempDirectory();
        string a = TestCheckpoints.WriteSafetensors(Path.Combine(root, "a", "model"), seed: 1);
        string b = TestCheckpoints.WriteSafetensors(Path.Combine(root, "b", "model"), seed: 2);
        string first, again, other;
        using (var served = ServedModel.Open(a, maxPositions: 256)) first = served.Identity;
        using (var served = ServedModel.Open(a, maxPositions: 256)) again = served.Identity;
        using (var served = ServedModel.Open(b, maxPositions: 256)) other = served.Identity;
        Assert.Equal(first, again);
        // Same folder name, other weights: the context cache must not share blocks between them.
        Assert.NotEqual(first, other);
        Assert.StartsWith("model-", other, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_paths_and_broken_files_are_clear_errors()
    {
        string root = TestCheckpoints.TempDirectory();
        var nowhere = Assert.Throws<ModelLoadException>(() => ServedModel.Open(Path.Combine(root, "absent")));
        Assert.Contains("no model at", nowhere.Message, StringComparison.Ordinal);

        string notModel = Path.Combine(root, "notes.txt");
        File.WriteAllText(notModel, "hello");
        Assert.Contains("not a GGUF file", Assert.Throws<ModelLoadException>(() => ServedModel.Open(notModel)).Message, StringComparison.Ordinal);

        string dir = TestCheckpoints.WriteSafetensors(Path.Combine(root, "cut"));
        TestCheckpoints.Truncate(Path.Combine(dir, "model.safetensors"));
        var cut = Assert.Throws<ModelLoadException>(() => ServedModel.Open(dir));
        Assert.Contains("model.safetensors", cut.Message, StringComparison.Ordinal);

        string gguf = TestCheckpoints.WriteGguf(Path.Combine(root, "cut.gguf"));
        TestCheckpoints.Truncate(gguf);
        var cutGguf = Assert.Throws<ModelLoadException>(() => ServedModel.Open(gguf));
        Assert.Contains("cut.gguf", cutGguf.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Choice_loads_the_bundled_folder_when_present_and_says_so_when_it_falls_back()
    {
        string withModel = TestCheckpoints.TempDirectory(), empty = TestCheckpoints.TempDirectory();
        TestCheckpoints.WriteSafetensors(Path.Combine(withModel, BundledModel.RelativePath));

        var bundled = new ModelChoice { BundledSearchRoots = [empty, withModel], MaxPositions = 256 }.Load();
        using (bundled.Served)
        {
            Assert.Null(bundled.FallbackNotice);
            Assert.Equal("sharpseek-r1-tiny", bundled.Served.Name);
        }

        var fallback = new ModelChoice { BundledSearchRoots = [empty], RandomSize = RandomModelSize.Tiny, RandomSeed = 5, MaxPositions = 256 }.Load();
        using (fallback.Served)
        {
            Assert.Equal("random-tiny-seed5", fallback.Served.Name);
            Assert.NotNull(fallback.FallbackNotice);
            Assert.Contains("random-weight", fallback.FallbackNotice, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', fallback.FallbackNotice);
        }

        // --random forces the random model even with the bundled one present; --model with --random is contradictory.
        var forced = new ModelChoice { BundledSearchRoots = [withModel], Random = true, RandomSize = RandomModelSize.Tiny, MaxPositions = 256 }.Load();
        using (forced.Served) Assert.Equal("random-tiny-seed1", forced.Served.Name);
        Assert.Throws<ModelLoadException>(() => new ModelChoice { ModelPath = withModel, Random = true }.Load());
    }
}
