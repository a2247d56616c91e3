using SharpSeek.Model;

namespace SharpSeek.Checkpoints;

/// <summary>
/// A model's config and tensor values by HF-style name (<see cref="WeightNames"/>), whatever holds them: a loaded
/// GGUF file, an HF safetensors directory, or the random generator. Values are always in HF semantics (e.g. Llama's
/// q/k rows in HF order), so any source can be written in any format.
/// </summary>
public interface ICheckpointSource
{
    ModelConfig Config { get; }

    /// <summary>How the source arranges experts and MLA's up-projection (see <see cref="CheckpointLayoutAdapter"/> to read another layout).</summary>
    CheckpointLayout Layout { get; }

    bool Contains(string name);

    /// <summary>The values of tensor <paramref name="name"/>; throws when absent.</summary>
    TensorValues Values(string name);

    /// <summary>Where a tensor comes from, for messages (file and stored name).</summary>
    string Describe(string name);
}
