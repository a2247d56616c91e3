using SharpSeek.Reasoning.Evaluation;
using SharpSeek.Reasoning.Tasks;
using SharpSeek.Reasoning.Training;
using SharpSeek.Tensors.Threading;

namespace SharpSeek.Reasoning.Recipe;

/// <summary>R1-Zero: reinforcement learning straight from the pretrained base, beside the R1 line (cold start, then GRPO).</summary>
public sealed partial class R1Recipe
{
    /// <summary>Eval-table stage of the R1-Zero policy, and of the base it starts from, both asked with the plain prompt.</summary>
    public const string ZeroStage = "R1-Zero", ZeroBaseStage = "base, plain prompt";

    /// <summary>
    /// GRPO on the pretrained weights with the plain-text prompt of the pretraining data (<see cref="SolutionTextFormat"/>),
    /// accuracy and format rewards only, no trace ever shown and a larger token budget than R1's; the same GRPO
    /// settings otherwise. The curves track reward, accuracy, response length and the share of responses that check
    /// their own work (<see cref="SelfCheck"/>). Returns the base's and the trained policy's eval cells (test split).
    /// </summary>
    private List<EvaluationCell> Zero(PolicyModel pretrained, SolutionTextFormat plain, ComputePool pool, CurveLog curves)
    {
        var cells = Evaluate(ZeroBaseStage, pretrained, plain, pool, [true], _s.ZeroMaxNewTokens);
        Grpo(pretrained, plain, pool, curves, new GrpoRun("r1-zero", _s.ZeroSteps, _s.ZeroMaxNewTokens, _s.ZeroLearningRate));
        cells.AddRange(Evaluate(ZeroStage, pretrained, plain, pool, [true], _s.ZeroMaxNewTokens));
        return cells;
    }
}
