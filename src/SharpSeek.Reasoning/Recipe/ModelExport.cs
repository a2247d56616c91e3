using SharpSeek.Tokenizer.Training;
using SharpSeek.Training;
using SharpSeek.Training.Checkpoints;

namespace SharpSeek.Reasoning.Recipe;

/// <summary>
/// Writes a trained model as an HF-layout directory the rest of SharpSeek loads (<c>Checkpoint.Open</c>): the weights
/// and <c>config.json</c> through the HF checkpoint writer (<see cref="TrainingCheckpoint.WriteModel"/>), and the
/// tokenizer's <c>tokenizer.json</c> + <c>tokenizer_config.json</c>.
/// </summary>
public static class ModelExport
{
    public static void Save(TrainableModel<float> model, TrainedBpeVocabulary tokenizer, string directory)
    {
        Directory.CreateDirectory(directory);
        TrainingCheckpoint.WriteModel(model, directory, "the exported model");
        tokenizer.Save(directory);
    }
}
