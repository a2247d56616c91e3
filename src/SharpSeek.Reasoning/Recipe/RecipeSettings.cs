using SharpSeek.Model;
using SharpSeek.Reasoning.Evaluation;
using SharpSeek.Reasoning.Tasks;
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

    /// <summary>
    /// Fine-tuning seeds: the R1 line (SFT, GRPO, the compute-matched control) runs this many times from the one
    /// pretrained model, each with its own random draws; the table shows means over seeds and the comparisons' intervals
    /// resample seeds as well as problems. The first seed's GRPO model is the one exported.
    /// </summary>
    public int Seeds { get; init; } = 1;
    /// <summary>After GRPO, the SFT model also trains on more traces for as much compute as GRPO spent (its own table row).</summary>
    public bool ComputeMatchedControl { get; init; } = true;

    /// <summary>
    /// Cold-start SFT steps. 6,000 (14 minutes here): a compute-matched control showed that on these tasks, whose
    /// reference traces are exact, SFT length is the strongest lever (about 5,900 steps gave 68 % pooled test pass@1
    /// against 51 % after 2,000; docs/model-card.md). A short cold start (`--sft-steps 300`) leaves RL more room.
    /// </summary>
    public int SftSteps { get; init; } = 6000;
    public int SftBatch { get; init; } = 16;
    public double SftLearningRate { get; init; } = 1.5e-3;
    /// <summary>Difficulties the cold-start traces are drawn from (null: all).</summary>
    public int[]? SftDifficulties { get; init; }
    /// <summary>Share of cold-start chats that are off-topic messages answered with the capability reply (<see cref="OffTopic"/>).</summary>
    public double SftOffTopicShare { get; init; } = 0.05;

    /// <summary>Where training accuracy peaked in calibration; past ~200 steps the policy drifts (KL grows) and falls back.</summary>
    public int GrpoSteps { get; init; } = 160;
    public int GrpoPrompts { get; init; } = 12;
    public int GrpoGroup { get; init; } = 8;
    /// <summary>Optimizer steps on each sampled batch (μ); after the first the ratio departs from 1 and clipping matters.</summary>
    public int GrpoUpdates { get; init; } = 2;
    /// <summary>
    /// RL starts with fresh AdamW moments, whose first steps move every weight by about the learning rate: at 3e-4
    /// without warm-up one step took the policy to a k3 KL of ~4 nats/token from SFT; 2e-4 lost D1 points. 1e-4 with
    /// <see cref="GrpoWarmupSteps"/> and the routing bias frozen raises training accuracy for ~150–200 steps
    /// (docs/model-card.md has the calibration runs).
    /// </summary>
    public double GrpoLearningRate { get; init; } = 1e-4;
    /// <summary>
    /// Linear learning-rate warm-up at the start of GRPO. RL starts with fresh AdamW moments, and Adam's first
    /// bias-corrected steps move every weight by the full learning rate whatever the gradient's noise; ramping up lets
    /// the second-moment estimates settle first.
    /// </summary>
    public int GrpoWarmupSteps { get; init; } = 30;
    /// <summary>
    /// γ of the aux-loss-free balancing during GRPO. Off by default: a GRPO batch is a dozen prompts, so its expert
    /// loads say little about the data, and ±γ steps taken from them are a random walk of the routing that moves the
    /// policy (KL) without the reward's say.
    /// </summary>
    public double GrpoBiasUpdateSpeed { get; init; }
    /// <summary>Every this many GRPO steps, held-out pass@1 (thinking) per difficulty is logged as a curve; 0 = never.</summary>
    public int GrpoEvalEvery { get; init; } = 20;
    /// <summary>The monitoring evaluation's size (kept small: it is a curve, the table comes from the full evaluation).</summary>
    public EvaluationSettings GrpoEvaluation { get; init; } = new() { ProblemsPerCell = 10, Samples = 2 };
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
    public int[] GrpoDifficulties { get; init; } = [1, 2, 3];
    /// <summary>Task families GRPO draws its prompts from (null: all), for RL where the SFT model is partly right.</summary>
    public TaskKind[]? GrpoTasks { get; init; }
    /// <summary>
    /// GRPO trains where the SFT model is partly right, chosen per seed on dev (<see cref="GrpoRoomSettings"/>) among
    /// <see cref="GrpoTasks"/> × <see cref="GrpoDifficulties"/>; when no cell has room it draws from all of them.
    /// Null: every cell of the two lists, unprobed.
    /// </summary>
    public GrpoRoomSettings? GrpoRoom { get; init; } = new();
    public GrpoSettings Grpo { get; init; } = new();

    /// <summary>R1-Zero's GRPO steps from the pretrained weights (0 skips R1-Zero); its other settings are GRPO's.</summary>
    public int ZeroSteps { get; init; } = 160;
    /// <summary>R1-Zero's budget per response: more room than R1's, so longer reasoning can pay if the policy finds it.</summary>
    public int ZeroMaxNewTokens { get; init; } = 160;
    /// <summary>R1-Zero's peak learning rate (after GRPO's warm-up).</summary>
    public double ZeroLearningRate { get; init; } = 1e-4;

    /// <summary>
    /// R1's third and fourth stages after GRPO: this many training problems answered by the GRPO policy, the verified
    /// traces (sampled as the distillation teacher's: <see cref="DistillSamples"/>, <see cref="DistillTemperature"/>)
    /// fine-tune a copy of the pretrained model, and GRPO runs again from it. 0 skips them.
    /// </summary>
    public int RejectionProblems { get; init; }
    /// <summary>Steps of the rejection-sampled SFT (0: as many as the cold start's <see cref="SftSteps"/>).</summary>
    public int RejectionSftSteps { get; init; }

    public int DistillProblems { get; init; } = 3000;
    /// <summary>Teacher samples per problem; every verified one is kept (rejection sampling), duplicates dropped.</summary>
    public int DistillSamples { get; init; } = 4;
    public float DistillTemperature { get; init; } = 0.6f;
    /// <summary>Pretraining of the student base (the same worked-solution text as the teacher's) before either fine-tune.</summary>
    public int DistillPretrainSteps { get; init; } = 2000;
    public int DistillSteps { get; init; } = 1000;
    public int DistillBatch { get; init; } = 16;
    public double DistillLearningRate { get; init; } = 2e-3;

    public EvaluationSettings Evaluation { get; init; } = new() { ProblemsPerCell = 40 };
    /// <summary>
    /// The pass@k curve (k = 1 … Samples) of SFT and GRPO from one set of many samples per problem, with thinking, on
    /// GRPO's task families (<see cref="GrpoTasks"/>; Kinds here is ignored): does RL raise pass@1 by narrowing what the model can
    /// reach (pass@k for large k falling), or widen it? Null skips it.
    /// </summary>
    public EvaluationSettings? PassAtKEvaluation { get; init; } = new() { ProblemsPerCell = 8, Samples = 64 };

    /// <summary>
    /// Optional file of the policy's weights right after SFT: loaded (skipping pretraining and SFT) when it exists,
    /// written when it does not. For calibrating the later stages; a run from the checkpoint matches a full run because
    /// GRPO starts from a copy with fresh optimizer state either way.
    /// </summary>
    public string? SftCheckpoint { get; init; }

    /// <summary>
    /// Optional file of the weights right after pretraining, with AdamW's state beside it in FILE.optimizer.safetensors
    /// (SFT continues pretraining's optimizer): loaded (skipping pretraining) when it exists, written when it does not.
    /// For calibrating SFT mixes.
    /// </summary>
    public string? PretrainCheckpoint { get; init; }

    /// <summary>The bundled model: DeepSeek-V3 architecture (MLA with q-compression, 1 dense + 2 MoE blocks with 8 routed
    /// experts top-2 in 2 groups + 1 shared, sigmoid routing with the selection bias, 1 MTP block), ~1.5M parameters.</summary>
    public static ModelConfig BundledModel(int vocabulary) => ScaledModel(vocabulary, 128, 3);

    /// <summary>
    /// The bundled model's family at another size, for scaling runs: <paramref name="width"/> is the hidden size (a
    /// multiple of 32: one head per 32) and <paramref name="depth"/> the number of blocks (the first dense, the rest MoE).
    /// Head dimensions stay (nope 24, rope 8, value 24); the ranks and feed-forward sizes scale with the width
    /// (q rank w/2, latent 3w/8, dense FFN 3w, expert FFN 3w/4), and the experts stay 8 top-2 + 1 shared.
    /// </summary>
    public static ModelConfig ScaledModel(int vocabulary, int width, int depth)
    {
        if (width < 32 || width % 32 != 0) throw new ArgumentOutOfRangeException(nameof(width), width, "the width must be a positive multiple of 32");
        if (depth < 2) throw new ArgumentOutOfRangeException(nameof(depth), depth, "the depth must be at least 2 (one dense block, then MoE blocks)");
        return SharpSeek.Training.TrainingPresets.Tiny with
        {
            VocabSize = vocabulary, HiddenSize = width, NumHiddenLayers = depth, NumAttentionHeads = width / 32, NumKeyValueHeads = width / 32,
            QLoraRank = width / 2, KvLoraRank = 3 * width / 8, QkNopeHeadDim = 24, QkRopeHeadDim = 8, VHeadDim = 24,
            IntermediateSize = 3 * width, MoeIntermediateSize = 3 * width / 4, MaxPositionEmbeddings = 512,
        };
    }

    /// <summary>
    /// The distillation student: the teacher's blocks, one fewer of them (1 dense + 1 MoE). Narrower students
    /// (hidden 64–96 with the tiny preset's attention and experts) pretrained to a loss near 0.6 against the teacher's
    /// 0.35 and learned too little from either kind of target for the comparison to mean anything.
    /// </summary>
    public static ModelConfig StudentModel(int vocabulary) => BundledModel(vocabulary) with { NumHiddenLayers = 2 };

    /// <summary>A few-seconds version for tests and CI: every stage runs, nothing is expected to learn much.</summary>
    public static RecipeSettings ContinuousIntegration(ulong seed = 1) => new()
    {
        Seed = seed, TokenizerVocabulary = 300, TokenizerCorpusProblems = 200,
        Model = StudentModel(300) with { HiddenSize = 32, MoeIntermediateSize = 16, IntermediateSize = 64, QLoraRank = 16, KvLoraRank = 16, QkNopeHeadDim = 8, VHeadDim = 8 },
        Student = StudentModel(300) with { HiddenSize = 32, NumHiddenLayers = 1, FirstKDenseReplace = 1, MoeIntermediateSize = 16, IntermediateSize = 64, QLoraRank = 16, KvLoraRank = 16, QkNopeHeadDim = 8, VHeadDim = 8 },
        MaxContext = 192,
        PretrainSteps = 4, PretrainBatch = 2, PretrainSequence = 64,
        SftSteps = 4, SftBatch = 4,
        GrpoSteps = 2, GrpoPrompts = 2, GrpoGroup = 4, GrpoUpdates = 2, GrpoMaxNewTokens = 24, ZeroSteps = 2, ZeroMaxNewTokens = 32,
        DistillProblems = 8, DistillPretrainSteps = 2, DistillSteps = 2, DistillBatch = 4,
        Evaluation = new EvaluationSettings { ProblemsPerCell = 2, Samples = 2, MaxNewTokens = 24, Seed = seed },
        GrpoEvaluation = new EvaluationSettings { ProblemsPerCell = 1, Samples = 2 },
        PassAtKEvaluation = new EvaluationSettings { ProblemsPerCell = 1, Samples = 6, MaxNewTokens = 24 },
        GrpoRoom = new GrpoRoomSettings { Probe = new EvaluationSettings { Split = DataSplit.Dev, ProblemsPerCell = 1, Samples = 4, MaxNewTokens = 24 } },
    };
}
