using SharpSeek.Formats;
using SharpSeek.Model;

namespace SharpSeek.Checkpoints;

/// <summary>Model-level validation shared by the readers: the tensors a config needs, present and shaped as it implies.</summary>
internal static class TensorSpecCheck
{
    /// <summary>
    /// Tensors a file may leave out: the model falls back (MTP head norm → final norm) or a reader fills them. The GGUF
    /// reader fills a missing selection bias with zeros (a zero bias selects by the affinities alone); the HF reader
    /// still requires <c>e_score_correction_bias</c> whenever the config plans one, since DeepSeek's HF checkpoints carry it.
    /// </summary>
    public static bool IsOptional(TensorSpec t, ModelConfig config) => t.Role == TensorRole.RouterBias
        || Enumerable.Range(config.NumHiddenLayers, config.NumNextnPredictLayers).Any(l => t.Name == WeightNames.MtpHeadNorm(l));

    /// <summary>A summary of the config fields that decide shapes, for messages about wrong shapes.</summary>
    public static string ConfigSummary(ModelConfig c) => c.Architecture == ModelArchitecture.DeepSeek
        ? $"hidden_size {c.HiddenSize}, heads {c.NumAttentionHeads}, q_lora_rank {(c.QLoraRank?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none")}, kv_lora_rank {c.KvLoraRank}, " +
          $"qk_nope/rope/v head dims {c.QkNopeHeadDim}/{c.QkRopeHeadDim}/{c.VHeadDim}, intermediate {c.IntermediateSize}, experts {c.NRoutedExperts} × {c.MoeIntermediateSize}, vocab {c.VocabSize}"
        : $"hidden_size {c.HiddenSize}, heads {c.NumAttentionHeads}/{c.NumKeyValueHeads} of {c.AttentionHeadDim}, intermediate {c.IntermediateSize}, vocab {c.VocabSize}";

    public static InvalidModelFileException Missing(string file, string stored, TensorSpec t, ModelConfig c)
        => new(file, $"tensor '{stored}'{(stored == t.Name ? "" : $" ({t.Name})")} is missing; a {c.ModelType} model with {c.NumHiddenLayers} layers needs it");

    public static InvalidModelFileException WrongShape(string file, string stored, int[] actual, TensorSpec t, ModelConfig c)
        => new(file, $"tensor '{stored}' has shape [{string.Join(", ", actual)}] but the config implies {t.ShapeText} ({ConfigSummary(c)})");
}
