using SharpSeek.Checkpoints.Gguf;
using SharpSeek.Checkpoints.HuggingFace;
using SharpSeek.Formats;
using SharpSeek.Formats.Gguf;
using SharpSeek.Model;
using SharpSeek.Tensors;
using SharpSeek.Tensors.Kernels;

namespace SharpSeek.Checkpoints;

/// <summary>The container a checkpoint came from.</summary>
public enum CheckpointFormat
{
    /// <summary>One llama.cpp GGUF file (deepseek2, qwen2 or llama).</summary>
    Gguf,
    /// <summary>An HF directory: config.json + one or more safetensors files (F32/F16/BF16, or DeepSeek's block-scaled FP8).</summary>
    HuggingFace,
}

/// <summary>
/// A model file opened for use: its config, its weights by HF-style name (zero-copy views of the memory-mapped
/// file(s)), and what the forward pass must know about the layout. Keep it alive while a model built from it runs.
/// Open with <see cref="Open"/> (detects the format) or the format's reader.
/// </summary>
public sealed class Checkpoint : ICheckpointSource, IDisposable
{
    private readonly Dictionary<string, string> _storedNames;
    private readonly Dictionary<string, Func<TensorValues, TensorValues>> _toHuggingFaceOrder;
    private readonly IDisposable _files;

    internal Checkpoint(string path, CheckpointFormat format, ModelConfig config, CheckpointLayout layout, ModelWeights weights,
        Dictionary<string, string> storedNames, IDisposable files, GgufFile? gguf, RopeLayout? denseRopeLayout,
        Dictionary<string, Func<TensorValues, TensorValues>>? toHuggingFaceOrder = null)
    {
        Path = path;
        Format = format;
        Config = config;
        Layout = layout;
        Weights = weights;
        _storedNames = storedNames;
        _files = files;
        Gguf = gguf;
        DenseRopeLayout = denseRopeLayout;
        _toHuggingFaceOrder = toHuggingFaceOrder ?? [];
    }

    /// <summary>The file or directory opened.</summary>
    public string Path { get; }
    public CheckpointFormat Format { get; }
    public ModelConfig Config { get; }
    public CheckpointLayout Layout { get; }

    /// <summary>The tensors by HF-style name as the forward pass binds them (GGUF Llama q/k rows stay in the file's interleaved order; see <see cref="DenseRopeLayout"/>).</summary>
    public ModelWeights Weights { get; }

    /// <summary>The GGUF file (metadata, tokenizer arrays) when the checkpoint is one.</summary>
    public GgufFile? Gguf { get; }

    /// <summary>How a Qwen2/Llama model must pair rotary dimensions for these weights (llama.cpp reorders Llama's q/k rows for interleaved pairs).</summary>
    public RopeLayout? DenseRopeLayout { get; }

    /// <summary>Opens a GGUF file or an HF safetensors directory (or its index/config file).</summary>
    public static Checkpoint Open(string path, FileLoadMode mode = FileLoadMode.MemoryMapped)
    {
        string full = System.IO.Path.GetFullPath(path);
        if (Directory.Exists(full)) return HuggingFaceCheckpointReader.Open(full, mode);
        if (!File.Exists(full)) throw new FileNotFoundException($"no model file or directory at '{full}'", full);
        if (IsGguf(full)) return GgufCheckpointReader.Open(full, mode);
        string name = System.IO.Path.GetFileName(full);
        if (name.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
            return HuggingFaceCheckpointReader.Open(System.IO.Path.GetDirectoryName(full)!, mode);
        throw new InvalidModelFileException(full, "not a GGUF file (no 'GGUF' magic) and not part of a safetensors checkpoint directory");
    }

    private static bool IsGguf(string path)
    {
        Span<byte> magic = stackalloc byte[4];
        using var f = File.OpenRead(path);
        return f.Read(magic) == 4 && magic.SequenceEqual("GGUF"u8);
    }

    /// <summary><paramref name="options"/> completed with what this checkpoint requires (the rotary pairing of its weights).</summary>
    public ModelOptions ModelOptions(ModelOptions? options = null)
    {
        options ??= new ModelOptions();
        return DenseRopeLayout is { } layout && options.DenseRopeLayout is null ? options with { DenseRopeLayout = layout } : options;
    }

    /// <summary>Binds the weights to a forward pass (the checkpoint must outlive the model).</summary>
    public LanguageModel CreateModel(ModelOptions? options = null) => LanguageModel.Create(Config, Weights, ModelOptions(options));

    // ---- ICheckpointSource: values in HF order ----

    public bool Contains(string name) => Weights.Contains(name);

    public TensorValues Values(string name)
    {
        var values = TensorValues.Of(Weights[name]);
        return _toHuggingFaceOrder.TryGetValue(name, out var reorder) ? reorder(values) : values;
    }

    public string Describe(string name)
        => _storedNames.TryGetValue(name, out var stored) ? $"{Path}: tensor '{stored}'" : $"{Path}: tensor '{name}'";

    public void Dispose()
    {
        Weights.Dispose();
        _files.Dispose();
    }
}
