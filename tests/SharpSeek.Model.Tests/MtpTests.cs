using SharpSeek.Checkpoints;
using SharpSeek.Model;

namespace SharpSeek.Model.Tests;

/// <summary>Pins the MTP input order: eh_proj reads concat(enorm(embedding of t_{i+1}), hnorm(h_i)), embedding first.</summary>
public class MtpTests
{
    /// <summary>
    /// With eh_proj = [I | 0] the MTP output at position 0 may depend only on the first half of its input, and at
    /// position 0 the MTP block attends to nothing else. Two prompts that differ in t_0 but share t_1 have different
    /// hidden states h_0, so their MTP logits at position 0 must match exactly when the embedding comes first, and
    /// must differ with eh_proj = [0 | I].
    /// </summary>
    [Fact]
    public void EmbeddingComesFirstInTheConcat()
    {
        var config = ModelPresets.TinyDeepSeekV3;
        int h = config.HiddenSize;
        var embeddingOnly = MtpLogitsAtPosition0(config, (row, col) => col == row ? 1f : 0f);
        Assert.True(ModelRunner.MaxAbsDiff(embeddingOnly.A, embeddingOnly.B) == 0,
            "with eh_proj = [I | 0] the MTP output changed with h_0: the embedding is not the first half");

        var hiddenOnly = MtpLogitsAtPosition0(config, (row, col) => col == h + row ? 1f : 0f);
        Assert.True(ModelRunner.MaxAbsDiff(hiddenOnly.A, hiddenOnly.B) > 1e-3,
            "with eh_proj = [0 | I] the MTP output ignored h_0: the hidden state is not the second half");
    }

    private static (float[] A, float[] B) MtpLogitsAtPosition0(ModelConfig config, Func<int, int, float> projection)
    {
        using var weights = RandomWeights.Create(config, seed: 17);
        int h = config.HiddenSize, v = config.VocabSize;
        var eh = weights[WeightNames.MtpProjection(config.NumHiddenLayers)].AsSpan<float>();
        for (int r = 0; r < h; r++)
            for (int c = 0; c < 2 * h; c++) eh[r * 2 * h + c] = projection(r, c);
        using var model = LanguageModel.Create(config, weights);

        float[] Run(int first)
        {
            int[] tokens = [first, 7, 9];
            using var s = model.CreateSession(8);
            var hidden = new float[tokens.Length * h];
            s.Forward(tokens, [], LogitsFor.None, hidden);
            var logits = new float[v];
            s.ForwardMtp(hidden.AsSpan(0, h), tokens.AsSpan(1, 1), logits);
            return logits;
        }
        return (Run(3), Run(40));
    }

    [Fact]
    public void MtpPositionsFollowTheMainCache()
    {
        var config = ModelPresets.TinyDeepSeekV3;
        using var weights = RandomWeights.Create(config, seed: 1);
        using var model = LanguageModel.Create(config, weights);
        Assert.Equal(1, model.MtpDepth);
        using var s = model.CreateSession(16);
        int h = config.HiddenSize;
        var hidden = new float[4 * h];
        s.Forward([1, 2, 3, 4], [], LogitsFor.None, hidden);
        var logits = new float[config.VocabSize];
        // Five MTP positions cannot run on four main positions.
        Assert.Throws<InvalidOperationException>(() => s.ForwardMtp(new float[5 * h], [1, 2, 3, 4, 5], logits));
        s.ForwardMtp(hidden, [2, 3, 4, 5], logits);
        Assert.Equal(4, s.MtpLength());
        s.Truncate(2);
        Assert.Equal(2, s.MtpLength());
    }

    [Fact]
    public void ModelsWithoutMtpWeightsRefuseMtp()
    {
        var config = ModelPresets.TinyDeepSeekV2Lite;
        using var weights = RandomWeights.Create(config, seed: 1);
        using var model = LanguageModel.Create(config, weights);
        Assert.Equal(0, model.MtpDepth);
        using var s = model.CreateSession(8);
        s.Forward([1, 2], [], LogitsFor.None);
        Assert.Throws<ArgumentOutOfRangeException>(() => s.ForwardMtp(new float[config.HiddenSize], [3], new float[config.VocabSize]));
    }
}
