using System.Text.RegularExpressions;
using SharpSeek.Model;

namespace SharpSeek.Checkpoints;

/// <summary>
/// Reads a source's tensors in any <see cref="CheckpointLayout"/>: stacks per-expert weights or slices stacked ones,
/// splits or fuses MLA's up-projection, supplies the MTP layer's repeated embedding/head from the main ones, and a zero
/// selection bias where a file leaves it out (llama.cpp treats a missing <c>exp_probs_b</c> as zero).
/// </summary>
public sealed partial class CheckpointLayoutAdapter(ICheckpointSource source)
{
    public ICheckpointSource Source { get; } = source;

    [GeneratedRegex(@"^model\.layers\.(\d+)\.(.+)$")]
    private static partial Regex LayerName();

    [GeneratedRegex(@"^mlp\.experts\.(\d+)\.(gate|up|down)_proj\.weight$")]
    private static partial Regex ExpertName();

    /// <summary>The values of <paramref name="tensor"/> as <paramref name="tensor"/> lays them out; throws naming the source when it cannot be made.</summary>
    public TensorValues Values(TensorSpec tensor)
    {
        var values = TryValues(tensor.Name) ?? throw Missing(tensor.Name);
        if (!values.Shape.AsSpan().SequenceEqual(tensor.Shape))
            throw new InvalidDataException($"{Source.Describe(tensor.Name)} has shape [{string.Join(", ", values.Shape)}], expected {tensor.ShapeText}");
        return values;
    }

    private InvalidDataException Missing(string name) => new InvalidDataException($"{Source.Describe(name)}: the source has no tensor '{name}' (nor another layout of it)");

    private TensorValues? TryValues(string name)
    {
        if (Source.Contains(name)) return Source.Values(name);
        var config = Source.Config;
        if (name == WeightNames.OutputHead && config.TieWordEmbeddings) return Get(WeightNames.Embedding);
        var m = LayerName().Match(name);
        if (!m.Success) return null;
        int l = int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        string suffix = m.Groups[2].Value;
        int nh = config.NumAttentionHeads, dn = config.QkNopeHeadDim, dv = config.VHeadDim;

        if (name == WeightNames.KBProj(l) && Source.Contains(WeightNames.KvBProj(l)))
            return MlaUpProjection.KeysFromFused(Get(WeightNames.KvBProj(l)), nh, dn, dv);
        if (name == WeightNames.VBProj(l) && Source.Contains(WeightNames.KvBProj(l)))
            return MlaUpProjection.ValuesFromFused(Get(WeightNames.KvBProj(l)), nh, dn, dv);
        if (name == WeightNames.KvBProj(l) && Source.Contains(WeightNames.KBProj(l)) && Source.Contains(WeightNames.VBProj(l)))
            return MlaUpProjection.FusedFromSplit(Get(WeightNames.KBProj(l)), Get(WeightNames.VBProj(l)));

        string? stackedKind = name == WeightNames.StackedExpertGate(l) ? "gate" : name == WeightNames.StackedExpertUp(l) ? "up" : name == WeightNames.StackedExpertDown(l) ? "down" : null;
        if (stackedKind is not null && config.NRoutedExperts > 0 && Source.Contains(ExpertTensor(l, 0, stackedKind)))
        {
            var parts = new TensorValues[config.NRoutedExperts];
            for (int e = 0; e < parts.Length; e++) parts[e] = Get(ExpertTensor(l, e, stackedKind));
            return new StackedTensorValues(parts);
        }
        var em = ExpertName().Match(suffix);
        if (em.Success)
        {
            int e = int.Parse(em.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            string kind = em.Groups[2].Value;
            string stacked = kind switch { "gate" => WeightNames.StackedExpertGate(l), "up" => WeightNames.StackedExpertUp(l), _ => WeightNames.StackedExpertDown(l) };
            if (Source.Contains(stacked)) return new SlicedTensorValues(Get(stacked), e);
        }

        if (name == WeightNames.MtpEmbedding(l)) return Get(WeightNames.Embedding);
        if (name == WeightNames.MtpHead(l)) return TryValues(WeightNames.OutputHead);
        if (name == WeightNames.RouterBias(l) && Source.Contains(WeightNames.Router(l)))
            return new ConstantTensorValues(0f, config.NRoutedExperts);
        return null;
    }

    private TensorValues Get(string name) => Source.Contains(name) ? Source.Values(name) : throw Missing(name);

    private static string ExpertTensor(int l, int e, string kind) => kind switch
    {
        "gate" => WeightNames.ExpertGate(l, e),
        "up" => WeightNames.ExpertUp(l, e),
        _ => WeightNames.ExpertDown(l, e),
    };
}
