using SharpSeek.Model;
using SharpSeek.Tensors;
using SharpSeek.Training;

namespace SharpSeek.Reasoning.Generation;

/// <summary>
/// The trainable model's parameters as inference weights: zero-copy F32 views of the parameter memory, named as in an
/// HF checkpoint, with the MTP layer's repeated embedding and head (as the released V3 checkpoint stores them). A
/// <see cref="LanguageModel"/> bound to these sees the training weights as they are when it is created.
/// </summary>
public static class InferenceWeights
{
    public static unsafe ModelWeights From(TrainableModel<float> model)
    {
        var weights = new ModelWeights();
        foreach (var p in model.Parameters)
            weights.Add(p.Name, Tensor.FromPointer(DType.F32, p.Shape, (byte*)p.Value, p.Length * sizeof(float), p), owned: false);
        var c = model.Config;
        var head = model[c.TieWordEmbeddings ? WeightNames.Embedding : WeightNames.OutputHead];
        var embedding = model[WeightNames.Embedding];
        for (int k = 0; k < c.NumNextnPredictLayers; k++)
        {
            int l = c.NumHiddenLayers + k;
            weights.Add(WeightNames.MtpEmbedding(l), Tensor.FromPointer(DType.F32, embedding.Shape, (byte*)embedding.Value, embedding.Length * sizeof(float), embedding), owned: false);
            weights.Add(WeightNames.MtpHead(l), Tensor.FromPointer(DType.F32, head.Shape, (byte*)head.Value, head.Length * sizeof(float), head), owned: false);
        }
        return weights;
    }
}
