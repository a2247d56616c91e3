using SharpSeek.Model;
using SharpSeek.Reasoning.Evaluation;
using SharpSeek.Reasoning.Training;

namespace SharpSeek.Reasoning.Recipe;

/// <summary>Everything that decides a run of <see cref="R1Recipe"/>; the same settings and seed give the same result.</summary>
public sealed record RecipeSettings
{
    public ulong Seed { get; init; } = 1;
    public int Threads { get; init; } = 2;

    public int TokenizerVocabulary { get; init; } = 512;
    public int TokenizerCorpusProblems { get; init; } = 3000;

    public required ModelConfig Model { get; init; }
    /// <summary>The distillation student (smaller than <see cref="Model"/>, same tokenizer).</summary>
    public required ModelConfig Student { get; init; }
    public int MaxContext { get; init; } = 256;

    public int PretrainSteps { get; init; } = 2000;
    public int PretrainBatch { get; init; } = 8;
    public int PretrainSequence { get; init; } = 256;
    public double PretrainLearningRate { get; init; } = 3e-3;

    public int SftSteps { get; init; } = 2000;
    public int SftBatch { get; init; } = 16;
    public double SftLearningRate { get; init; } = 1.5e-3;

    public int GrpoSteps { get; init; } = 64;
    public int GrpoPrompts { get; init; } = 12;
    public int GrpoGroup { get; init; } = 8;
    /// <summary>Optimizer steps on each sampled batch (μ); after the first the ratio departs from 1 and clipping matters.</summary>
    public int GrpoUpdates { get; init; } = 2;
    /// <summary>
    /// Low because RL starts with fresh AdamW moments, whose first steps move every weight by about the learning rate:
    /// at 3e-4 one step took the policy to a k3 KL of ~4 nats/token from SFT and halved D1 pass@1 in 20 steps;
    /// 2e-4 with a 10-step warm-up on D2–D3 prompts still lost 5 points (docs/model-card.md).
    /// </summary>
    public double GrpoLearningRate { get; init; } = 5e-5;
    public float GrpoTemperature { get; init; } = 1f;
    /// <summary>Room for the longest generated trace (about 90 tokens: 3-column addition with carries) plus slack.</summary>
    public int GrpoMaxNewTokens { get; init; } = 112;
    /// <summary>
    /// Dynamic sampling (DAPO): each step samples this many times <see cref="GrpoPrompts"/> candidate prompts and trains
    /// on the first <see cref="GrpoPrompts"/> whose group rewards differ; all-equal groups have zero advantage and
    /// would only cost a backward pass. Sampling is cheap next to the update, so oversampling buys signal.
    /// </summary>
    public int GrpoOversample { get; init; } = 3;
    /// <summary>Difficulties GRPO draws its prompts from (RL refines where the SFT model is partly right).</summary>
    public int[] GrpoDifficulties { get; init; } = [1, 2];
    public GrpoSettings Grpo { get; init; } = new();

    public int DistillProblems { get; init; } = 600;
    /// <summary>Teacher samples per problem; every verified one is kept (rejection sampling), duplicates dropped.</summary>
    public int DistillSamples { get; init; } = 4;
    public float DistillTemperature { get; init; } = 0.6f;
    /// <summary>Pretraining of the student base (the same worked-solution text as the teacher's) before either fine-tune.</summary>
    public int DistillPretrainSteps { get; init; } = 1000;
    public int DistillSteps { get; init; } = 600;
    public int DistillBatch { get; init; } = 16;
    public double DistillLearningRate { get; init; } = 2e-3;

    public EvaluationSettings Evaluation { get; init; } = new();

    /// <summary>
    /// Optional file of the policy's weights right after SFT: loaded (skipping pretraining and SFT) when it exists,
    /// written when it does not. For calibrating the later stages; a run from the checkpoint matches a full run because
    /// GRPO starts from a copy with fresh optimizer state either way.
    /// </summary>
    public string? SftCheckpoint { get; init; }

    /// <summary>The bundled model: DeepSeek-V3 architecture (MLA with q-compression, 1 dense + 2 MoE blocks with 8 routed
    /// experts top-2 in 2 groups + 1 shared, sigmoid routing with the selection bias, 1 MTP block), ~2M parameters.</summary>
    public static ModelConfig BundledModel(int vocabulary) => SharpSeek.Training.TrainingPresets.Tiny with
    {
        VocabSize = vocabulary, HiddenSize = 128, NumHiddenLayers = 3, NumAttentionHeads = 4, NumKeyValueHeads = 4,
        QLoraRank = 64, KvLoraRank = 48, QkNopeHeadDim = 24, QkRopeHeadDim = 8, VHeadDim = 24,
        IntermediateSize = 384, MoeIntermediateSize = 96, MaxPositionEmbeddings = 512,
    };

    /// <summary>The distillation student: the same architecture at about a quarter of the size.</summary>
    public static ModelConfig StudentModel(int vocabulary) => SharpSeek.Training.TrainingPresets.Tiny with
    {
        VocabSize = vocabulary, HiddenSize = 64, NumHiddenLayers = 2, MaxPositionEmbeddings = 512,
    };

    /// <summary>A few-seconds version for tests and CI: every stage runs, nothing is expected to learn much.</summary>
    public static RecipeSettings ContinuousIntegration(ulong seed = 1) => new()
    {
        Seed = seed, TokenizerVocabulary = 300, TokenizerCorpusProblems = 200,
        Model = StudentModel(300) with { HiddenSize = 32, MoeIntermediateSize = 16, IntermediateSize = 64, QLoraRank = 16, KvLoraRank = 16, QkNopeHeadDim = 8, VHeadDim = 8 },
        Student = StudentModel(300) with { HiddenSize = 32, NumHiddenLayers = 1, FirstKDenseReplace = 1, MoeIntermediateSize = 16, IntermediateSize = 64, QLoraRank = 16, KvLoraRank = 16, QkNopeHeadDim = 8, VHeadDim = 8 },
        MaxContext = 192,
        PretrainSteps = 4, PretrainBatch = 2, PretrainSequence = 64,
        SftSteps = 4, SftBatch = 4,
        GrpoSteps = 2, GrpoPrompts = 2, GrpoGroup = 4, GrpoUpdates = 2, GrpoMaxNewTokens = 24,
        DistillProblems = 8, DistillPretrainSteps = 2, DistillSteps = 2, DistillBatch = 4,
        Evaluation = new EvaluationSettings { ProblemsPerCell = 2, Samples = 2, MaxNewTokens = 24, Seed = seed },
    };
}
