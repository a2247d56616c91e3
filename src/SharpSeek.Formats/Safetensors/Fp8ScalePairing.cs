using SharpSeek.Tensors;

namespace SharpSeek.Formats.Safetensors;

/// <summary>
/// DeepSeek-V3's FP8 checkpoint stores each quantised linear <c>X.weight</c> (F8_E4M3, [out, in]) with a sibling
/// <c>X.weight_scale_inv</c> (F32, [ceil(out/128), ceil(in/128)]). This pairs them so callers get one weight tensor
/// that carries its scales (<see cref="Tensor.BlockScales"/>).
/// </summary>
public static class Fp8ScalePairing
{
    public const string ScaleSuffix = "_scale_inv";

    /// <summary>The name of the scale tensor that belongs to <paramref name="weightName"/>.</summary>
    public static string ScaleNameFor(string weightName) => weightName + ScaleSuffix;

    /// <summary>True for names of scale tensors, which loaders should not treat as weights of their own.</summary>
    public static bool IsScaleName(string name) => name.EndsWith(ScaleSuffix, StringComparison.Ordinal);

    /// <summary>
    /// The tensor <paramref name="name"/>; when it is F8E4M3, with its block scales attached. Any other dtype is
    /// returned as is. An FP8 weight without its scale tensor, or with one of the wrong dtype or shape, is an
    /// <see cref="InvalidModelFileException"/>: using it unscaled would silently produce garbage.
    /// </summary>
    public static Tensor GetWeight(ITensorSource source, string name)
    {
        var weight = source.GetTensor(name);
        if (weight.DType != DType.F8E4M3) return weight;
        string scaleName = ScaleNameFor(name);
        if (!source.ContainsTensor(scaleName))
            throw new InvalidModelFileException(source.FileOf(name), $"FP8 weight '{name}' has no '{scaleName}' block-scale tensor");
        var scales = source.GetTensor(scaleName);
        try
        {
            return weight.WithBlockScales(scales);
        }
        catch (ArgumentException e)
        {
            throw new InvalidModelFileException(source.FileOf(scaleName), $"'{scaleName}' does not fit FP8 weight '{name}': {e.Message}", e);
        }
    }
}
