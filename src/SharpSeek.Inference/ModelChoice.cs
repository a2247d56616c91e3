using SharpSeek.Tokenizer;

namespace SharpSeek.Inference;

/// <summary>A loaded model and, when the bundled model was wanted but is missing, the one line saying what runs instead.</summary>
public sealed record ChosenModel(ServedModel Served, string? FallbackNotice);

/// <summary>
/// What <c>serve</c> and <c>chat</c> were asked to run: a checkpoint path, the random-weight model, or (neither given)
/// the bundled model, falling back to the random one when it is not there.
/// </summary>
public sealed record ModelChoice
{
    /// <summary>GGUF file or HF safetensors folder; null picks the bundled model.</summary>
    public string? ModelPath { get; init; }
    /// <summary>tokenizer.json or its folder; null uses the model's own.</summary>
    public string? TokenizerPath { get; init; }
    /// <summary>Serve the random-weight model even when the bundled one exists.</summary>
    public bool Random { get; init; }
    public RandomModelSize RandomSize { get; init; } = RandomModelSize.Small;
    public int RandomSeed { get; init; } = 1;
    /// <summary>Positions per sequence (the model's own limit may lower it).</summary>
    public int MaxPositions { get; init; } = 8192;
    /// <summary>Where to look for the bundled model; null: <see cref="BundledModel.SearchRoots"/> of this process.</summary>
    public IReadOnlyList<string>? BundledSearchRoots { get; init; }

    /// <exception cref="ModelLoadException">The options contradict each other or the model cannot be loaded.</exception>
    public ChosenModel Load()
    {
        if (MaxPositions < 2) throw new ModelLoadException("--context must be at least 2");
        if (ModelPath is not null && Random) throw new ModelLoadException("--model and --random exclude each other: give one");
        if (ModelPath is not null) return new(ServedModel.Open(ModelPath, TokenizerPath, MaxPositions), null);
        if (!Random)
        {
            var roots = BundledSearchRoots ?? BundledModel.SearchRoots(Environment.CurrentDirectory, AppContext.BaseDirectory);
            if (BundledModel.Find(roots) is { } bundled) return new(ServedModel.Open(bundled, TokenizerPath, MaxPositions), null);
            var random = CreateRandom();
            string where = roots.Count == 1 ? roots[0] : $"{roots[0]} or {roots[^1]} (and the folders from there down to the binary)";
            return new(random, $"no bundled model ({BundledModel.RelativePath} with config.json and *.safetensors) in {where}: " +
                               $"serving the deterministic random-weight model {random.Name}, so answers are gibberish");
        }
        return new(CreateRandom(), null);
    }

    /// <summary>The tokenizer of the model this choice names, without its weights (for <c>sharpseek router</c>).</summary>
    /// <exception cref="ModelLoadException">The options contradict each other or the tokenizer cannot be read.</exception>
    public ByteLevelBpeTokenizer LoadTokenizer()
    {
        if (ModelPath is not null && Random) throw new ModelLoadException("--model and --random exclude each other: give one");
        string? path = ModelPath;
        if (path is null && !Random)
            path = BundledModel.Find(BundledSearchRoots ?? BundledModel.SearchRoots(Environment.CurrentDirectory, AppContext.BaseDirectory));
        if (path is not null) return ServedModel.OpenTokenizer(path, TokenizerPath);
        return RandomTokenizer() ?? ServedModel.CreateByteTokenizer();
    }

    private ServedModel CreateRandom() => ServedModel.CreateRandom(RandomSize, RandomSeed, MaxPositions, RandomTokenizer());

    private ByteLevelBpeTokenizer? RandomTokenizer()
    {
        ByteLevelBpeTokenizer? tokenizer = null;
        if (TokenizerPath is { } path)
        {
            try
            {
                string full = Path.GetFullPath(path);
                if (!File.Exists(full) && !Directory.Exists(full)) throw new ModelLoadException($"--tokenizer: no tokenizer.json or folder at '{full}'");
                tokenizer = Directory.Exists(full) ? ByteLevelBpeTokenizer.FromDirectory(full) : ByteLevelBpeTokenizer.FromFile(full);
            }
            catch (Exception e) when (e is TokenizerFileException or NotSupportedException or IOException or UnauthorizedAccessException)
            {
                throw new ModelLoadException($"cannot read the tokenizer '{path}': {e.Message}", e);
            }
        }
        return tokenizer;
    }
}
