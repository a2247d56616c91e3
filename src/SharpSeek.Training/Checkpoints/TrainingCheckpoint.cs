using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using SharpSeek.Checkpoints;
using SharpSeek.Checkpoints.HuggingFace;
using SharpSeek.Formats;
using SharpSeek.Formats.Safetensors;
using SharpSeek.Model;
using SharpSeek.Tensors;
using SharpSeek.Training.Autodiff;
using SharpSeek.Training.Optimization;
using SharpSeek.Training.ScaleOut;

namespace SharpSeek.Training.Checkpoints;

/// <summary>The training state beside the weights: where the run is and with which options it runs.</summary>
public sealed record TrainerState
{
    public string Format { get; init; } = TrainingCheckpoint.StateFormat;
    public required long Step { get; init; }
    public required long TokensSeen { get; init; }
    public required long OptimizerSteps { get; init; }
    public required long LoaderEpoch { get; init; }
    public required long LoaderCursor { get; init; }
    public required TrainingOptions Options { get; init; }
}

/// <summary>
/// A checkpoint is a directory <c>checkpoint-NNNNNN/</c>:
/// <list type="bullet">
/// <item><c>config.json</c> and <c>model.safetensors</c>: an HF-layout DeepSeek-V3 checkpoint written by the one HF writer
/// (<see cref="HuggingFaceCheckpointWriter"/>: F32, HF tensor names, MTP module at layer num_hidden_layers with its
/// repeated <c>embed_tokens</c> and <c>shared_head.head</c> as in the released checkpoint, the selection bias as
/// <c>e_score_correction_bias</c>). The inference engine loads it as is (<see cref="LoadForInference"/>), and a GGUF
/// converter reads it like any HF checkpoint.</item>
/// <item><c>optimizer.safetensors</c>: AdamW's first and second moments per parameter (<c>NAME.exp_avg</c>,
/// <c>NAME.exp_avg_sq</c>, F32).</item>
/// <item><c>trainer_state.json</c>: step, tokens seen, the data loader's epoch and cursor, and the run's options.</item>
/// <item><c>tokenizer.json</c> (+ <c>tokenizer_config.json</c>): copies of the output directory's, when it has them
/// (<c>sharpseek train --tokenizer</c> puts the run's tokenizer there), so the inference engine finds the tokenizer
/// beside the weights.</item>
/// </list>
/// The directory is written under a temporary name and renamed into place when every file is flushed to disk, then
/// <c>latest</c> (a one-line file naming it) is replaced the same way; a crash at any moment leaves the previous
/// checkpoint intact and <c>latest</c> pointing at a complete one.
/// </summary>
public static class TrainingCheckpoint
{
    public const string ConfigFile = "config.json";
    public const string ModelFile = "model.safetensors";
    public const string OptimizerFile = "optimizer.safetensors";
    public const string StateFile = "trainer_state.json";
    public const string LatestFile = "latest";
    public const string StateFormat = "sharpseek-trainer-state-v1";
    /// <summary>The tokenizer files copied from the output directory into every checkpoint when they are there.</summary>
    public static IReadOnlyList<string> TokenizerFiles { get; } = ["tokenizer.json", "tokenizer_config.json"];

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter() },
    };

    public static string DirectoryName(long step) => $"checkpoint-{step.ToString("D6", CultureInfo.InvariantCulture)}";

    /// <param name="staged">Expert-parallel runs: the experts other ranks own, gathered to this one, written with the model.</param>
    public static string Save(Trainer trainer, string outputDirectory, StagedExperts? staged = null)
    {
        Directory.CreateDirectory(outputDirectory);
        string final = Path.Combine(outputDirectory, DirectoryName(trainer.Step));
        string temp = Path.Combine(outputDirectory, $".{DirectoryName(trainer.Step)}.{Guid.NewGuid():N}.tmp");
        Directory.CreateDirectory(temp);
        try
        {
            WriteModel(trainer.Model, temp, $"training step {trainer.Step}", staged);
            SaveOptimizer(trainer.Optimizer, Path.Combine(temp, OptimizerFile), staged);
            var state = new TrainerState
            {
                Step = trainer.Step,
                TokensSeen = trainer.TokensSeen,
                OptimizerSteps = trainer.Optimizer.StepCount,
                LoaderEpoch = trainer.Loader.Position.Epoch,
                LoaderCursor = trainer.Loader.Position.Cursor,
                Options = trainer.Options,
            };
            AtomicFile.WriteAllText(Path.Combine(temp, StateFile), JsonSerializer.Serialize(state, Json));
            foreach (string name in TokenizerFiles)
            {
                string source = Path.Combine(outputDirectory, name);
                if (File.Exists(source)) AtomicFile.WriteAllBytes(Path.Combine(temp, name), File.ReadAllBytes(source));
            }
            if (Directory.Exists(final))
            {
                // Saving the same step again: move the old one aside first (a directory rename cannot overwrite).
                string old = final + $".{Guid.NewGuid():N}.old";
                Directory.Move(final, old);
                Directory.Move(temp, final);
                Directory.Delete(old, recursive: true);
            }
            else Directory.Move(temp, final);
        }
        catch
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
            throw;
        }
        AtomicFile.WriteAllText(Path.Combine(outputDirectory, LatestFile), DirectoryName(trainer.Step) + "\n");
        return final;
    }

    /// <summary>The checkpoint <c>latest</c> names in <paramref name="outputDirectory"/>, or null when there is none.</summary>
    public static string? Latest(string outputDirectory)
    {
        string pointer = Path.Combine(outputDirectory, LatestFile);
        if (!File.Exists(pointer)) return null;
        string dir = Path.Combine(outputDirectory, File.ReadAllText(pointer).Trim());
        return Directory.Exists(dir) ? dir : null;
    }

    public static (ModelConfig Config, TrainerState State) ReadConfigAndState(string directory)
    {
        var config = ModelConfigJson.Parse(File.ReadAllText(Path.Combine(directory, ConfigFile)));
        var state = JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(Path.Combine(directory, StateFile)), Json)
            ?? throw new InvalidDataException($"{directory}: empty trainer state");
        if (state.Format != StateFormat) throw new InvalidDataException($"{directory}: trainer state format '{state.Format}' is not {StateFormat}");
        return (config, state);
    }

    /// <summary>Loads weights and optimizer moments into a freshly constructed model and optimizer of the same config.</summary>
    public static void Restore(string directory, TrainableModel<float> model, AdamW optimizer)
    {
        RestoreParameters(Path.Combine(directory, ModelFile), model);
        RestoreOptimizer(Path.Combine(directory, OptimizerFile), optimizer);
    }

    /// <summary>
    /// Writes <paramref name="model"/> as an HF checkpoint folder (config.json + model.safetensors, F32) into
    /// <paramref name="directory"/> through <see cref="HuggingFaceCheckpointWriter"/>: the one place weights are laid out.
    /// </summary>
    public static void WriteModel(TrainableModel<float> model, string directory, string description, StagedExperts? staged = null) =>
        HuggingFaceCheckpointWriter.Write(Source(model, description, staged), directory, new HuggingFaceWriteOptions { WeightType = DType.F32, MaxShardBytes = long.MaxValue });

    /// <summary>The model's parameters (and any staged experts of other ranks) as a checkpoint source (F32 views of their memory, no copy).</summary>
    public static unsafe WeightsCheckpoint Source(TrainableModel<float> model, string description, StagedExperts? staged = null)
    {
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var p in model.Parameters) tensors[p.Name] = View(p.Value, p.Shape, p);
        foreach (var t in staged?.Tensors ?? []) tensors[t.Value.Name] = View(t.Value.Value, t.Value.Shape, t.Value);
        return new WeightsCheckpoint(model.Config, tensors, description);
    }

    /// <summary>
    /// Loads every parameter from a safetensors file holding them under their names (a checkpoint's model file, or
    /// a stage's weights from <see cref="WriteModel"/>); a missing tensor or another shape is another config.
    /// </summary>
    public static void RestoreParameters(string path, TrainableModel<float> model)
    {
        using var file = SafetensorsFile.Open(path, FileLoadMode.ReadIntoMemory);
        foreach (var p in model.Parameters) Copy(file, p.Name, p.Shape, p.Values);
    }

    /// <summary>
    /// Loads AdamW's moments and step count from an optimizer file (<see cref="SaveOptimizer"/>) into an optimizer over
    /// the same parameters; for stages that carry one optimizer across phases without a <see cref="Trainer"/>.
    /// </summary>
    public static void RestoreOptimizer(string path, AdamW optimizer)
    {
        using var file = SafetensorsFile.Open(path, FileLoadMode.ReadIntoMemory);
        foreach (var p in optimizer.Parameters)
        {
            Copy(file, p.Name + ".exp_avg", p.Shape, optimizer.FirstMoment(p));
            Copy(file, p.Name + ".exp_avg_sq", p.Shape, optimizer.SecondMoment(p));
        }
        if (!file.Metadata.TryGetValue("step", out string? step) || !long.TryParse(step, NumberStyles.None, CultureInfo.InvariantCulture, out long steps))
            throw new InvalidDataException($"{path}: no optimizer step count in the metadata");
        optimizer.StepCount = steps;
    }

    /// <summary>Model weights and config of a checkpoint in the inference engine's container (views of the mapped file).</summary>
    public static (ModelConfig Config, ModelWeights Weights) LoadForInference(string directory)
    {
        var config = ModelConfigJson.Parse(File.ReadAllText(Path.Combine(directory, ConfigFile)));
        var file = SafetensorsFile.Open(Path.Combine(directory, ModelFile));
        var weights = new ModelWeights();
        try
        {
            foreach (var name in file.TensorNames) weights.Add(name, file.GetTensor(name), owned: false);
            weights.KeepAlive(file);
            return (config, weights);
        }
        catch
        {
            weights.Dispose();
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Writes every parameter under its name as one F32 safetensors file, atomically: the state of a stage that
    /// <see cref="RestoreParameters"/> continues from (no config, no MTP repeats — for a loadable model use
    /// <see cref="WriteModel"/>).
    /// </summary>
    public static unsafe void SaveParameters(TrainableModel<float> model, string path)
    {
        var writer = new SafetensorsWriter();
        foreach (var p in model.Parameters) writer.AddTensor(p.Name, View(p.Value, p.Shape, p));
        writer.Write(path);
    }

    /// <summary>Writes AdamW's moments (<c>NAME.exp_avg</c>, <c>NAME.exp_avg_sq</c>) and step count as one safetensors file, atomically.</summary>
    public static unsafe void SaveOptimizer(AdamW optimizer, string path, StagedExperts? staged = null)
    {
        var writer = new SafetensorsWriter();
        writer.Metadata["step"] = optimizer.StepCount.ToString(CultureInfo.InvariantCulture);
        foreach (var p in optimizer.Parameters)
        {
            fixed (float* m = optimizer.FirstMoment(p))
                writer.AddTensor(p.Name + ".exp_avg", View(m, p.Shape, optimizer));
            fixed (float* v = optimizer.SecondMoment(p))
                writer.AddTensor(p.Name + ".exp_avg_sq", View(v, p.Shape, optimizer));
        }
        foreach (var t in staged?.Tensors ?? [])
        {
            writer.AddTensor(t.FirstMoment.Name, View(t.FirstMoment.Value, t.FirstMoment.Shape, t.FirstMoment));
            writer.AddTensor(t.SecondMoment.Name, View(t.SecondMoment.Value, t.SecondMoment.Shape, t.SecondMoment));
        }
        writer.Write(path);
    }

    /// <summary>An F32 tensor over memory owned elsewhere (parameters and moments live in native memory, so pointers stay valid).</summary>
    private static unsafe Tensor View(float* data, int[] shape, object owner)
        => Tensor.FromPointer(DType.F32, shape, (byte*)data, Tensor.ShapeElements(shape) * sizeof(float), owner);

    private static void Copy(SafetensorsFile file, string name, int[] shape, Span<float> destination)
    {
        using var t = file.GetTensor(name);
        if (t.DType != DType.F32 || !t.Shape.AsSpan().SequenceEqual(shape))
            throw new InvalidDataException($"{file.Path}: '{name}' is {t.DType} [{string.Join(", ", t.Shape)}], expected F32 [{string.Join(", ", shape)}]");
        t.AsSpan<float>().CopyTo(destination);
    }
}
