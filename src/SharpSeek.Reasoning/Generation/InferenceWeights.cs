using SharpSeek.Model;
using SharpSeek.Tensors;
using SharpSeek.Training;

namespace SharpSeek.Reasoning.Generation;

/// <summary>
/// The trainable model's parameters as inference weights: zero-copy F32 views of the parameter memory, named as in an
/// HF checkpoint. The MTP layer's embedding and head are not repeated: <see cref="DeepSeekModel"/> uses the main ones
/// when a checkpoint has no copies of its own. A <see cref="LanguageModel"/> bound to these sees the training weights
/// as they are when it is created.
/// </summary>
public static class InferenceWeights
{
    public static unsafe ModelWeights From(TrainableModel<float> model)
    {
        var weights = new ModelWeights();
        foreach (var p in model.Parameters)
            weights.Add(p.Name, Tensor.FromPointer(DType.F32, p.Shape, (byte*)p.Value, p.Length * sizeof(float), p), owned: false);
        return weights;
    }
}
