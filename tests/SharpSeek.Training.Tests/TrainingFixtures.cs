using SharpSeek.Model;
using SharpSeek.Training.Data;

namespace SharpSeek.Training.Tests;

/// <summary>A fresh directory per use, deleted afterwards.</summary>
public sealed class TempDirectory : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "sharpseek-training-" + Guid.NewGuid().ToString("N"));

    public TempDirectory() => Directory.CreateDirectory(Path);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
    }
}

/// <summary>The generated corpus, byte-level tokenized into train and validation shards once per test class.</summary>
public sealed class CorpusFixture : IDisposable
{
    private readonly TempDirectory _dir = new();

    public CorpusFixture()
    {
        var tokenizer = new ByteLevelTokenizer();
        TokenShard.Write(SyntheticCorpus.Documents(seed: 1, count: 1500), tokenizer, _dir.Path, "train", tokensPerShard: 60_000);
        TokenShard.Write(SyntheticCorpus.Documents(seed: 2, count: 60), tokenizer, _dir.Path, "val");
    }

    public string Directory => _dir.Path;

    public PackedDataset Train(int sequenceLength) => PackedDataset.FromDirectory(_dir.Path, "train", sequenceLength);
    public PackedDataset Validation(int sequenceLength) => PackedDataset.FromDirectory(_dir.Path, "val", sequenceLength);

    public void Dispose() => _dir.Dispose();
}

internal static class TestConfigs
{
    /// <summary>
    /// A small V3-shaped model for byte-level text: query compression, MLA, one dense and one MoE block (8 routed experts
    /// in 2 groups, top-2, one shared expert, sigmoid scoring with the selection bias), one MTP layer; ~0.3M parameters.
    /// </summary>
    public static ModelConfig Small { get; } = new()
    {
        ModelType = "deepseek_v3",
        HiddenSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeads = 4, VocabSize = 257,
        QLoraRank = 32, KvLoraRank = 32, QkNopeHeadDim = 16, QkRopeHeadDim = 8, VHeadDim = 16,
        FirstKDenseReplace = 1, IntermediateSize = 128,
        NRoutedExperts = 8, NSharedExperts = 1, NumExpertsPerTok = 2, MoeIntermediateSize = 32,
        ScoringFunc = ExpertScoring.Sigmoid, TopkMethod = ExpertSelection.NoAuxTopkCorrected, NormTopkProb = true,
        RoutedScalingFactor = 2.5, NGroup = 2, TopkGroup = 2,
        RopeTheta = 10000, MaxPositionEmbeddings = 1024, RopeScaling = null,
        NumNextnPredictLayers = 1, RmsNormEps = 1e-6,
    };
}
