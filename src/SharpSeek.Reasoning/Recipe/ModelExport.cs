using SharpSeek.Formats.Safetensors;
using SharpSeek.Model;
using SharpSeek.Reasoning.Generation;
using SharpSeek.Tokenizer.Training;
using SharpSeek.Training;
using SharpSeek.Formats;

namespace SharpSeek.Reasoning.Recipe;

/// <summary>
/// Writes a trained model as an HF-layout directory the rest of SharpSeek loads (<c>Checkpoint.Open</c>):
/// <c>config.json</c>, <c>model.safetensors</c> (F32, HF names, MTP layer with its repeated embedding and head) and the
/// tokenizer's <c>tokenizer.json</c> + <c>tokenizer_config.json</c>.
/// </summary>
public static class ModelExport
{
    public static void Save(TrainableModel<float> model, TrainedBpeVocabulary tokenizer, string directory)
    {
        Directory.CreateDirectory(directory);
        AtomicFile.WriteAllText(Path.Combine(directory, "config.json"), ModelConfigJson.Write(model.Config));
        using (var weights = InferenceWeights.From(model))
        {
            var writer = new SafetensorsWriter();
            writer.Metadata["format"] = "pt";
            foreach (string name in weights.Names.Order(StringComparer.Ordinal)) writer.AddTensor(name, weights[name]);
            writer.Write(Path.Combine(directory, "model.safetensors"));
        }
        tokenizer.Save(directory);
    }
}
