using SharpSeek.Tensors;
using System.Globalization;
using System.Text;
using SharpSeek.Reasoning.Generation;
using SharpSeek.Reasoning.Tasks;
using SharpSeek.Training;
using SharpSeek.Reporting;

namespace SharpSeek.Reasoning.Evaluation;

public sealed record EvaluationSettings
{
    /// <summary>Problems per (task, difficulty).</summary>
    public int ProblemsPerCell { get; init; } = 20;
    /// <summary>Where the problems come from: Test for the final table, Dev for anything a choice is made on.</summary>
    public DataSplit Split { get; init; } = DataSplit.Test;
    /// <summary>k: samples per problem (pass@1 is their mean accuracy, maj@k the majority answer's).</summary>
    public int Samples { get; init; } = 4;
    /// <summary>R1 reports pass@1 at temperature 0.6.</summary>
    public float Temperature { get; init; } = 0.6f;
    public int MaxNewTokens { get; init; } = 112;
    public ulong Seed { get; init; } = 1;
    public IReadOnlyList<TaskKind> Kinds { get; init; } = ProblemGenerator.Kinds;
    public int MaxDifficulty { get; init; } = ProblemGenerator.MaxDifficulty;
}

/// <summary>One cell of the eval table.</summary>
public sealed record EvaluationCell(string Stage, bool Thinking, TaskKind Kind, int Difficulty, int Problems, double PassAt1, double MajorityAtK, double MeanTokens)
{
    /// <summary>How many of each problem's samples were correct (the cell's problems are the same set in every stage).</summary>
    public ProblemScores Solved { get; init; } = ProblemScores.Empty;
    /// <summary>Which fine-tuning seed produced the evaluated model (0 for stages that run once).</summary>
    public int Replica { get; init; }
}

/// <summary>
/// Per-problem outcomes of one cell: <see cref="Samples"/> samples each, <see cref="Correct"/>[i] of them right. From
/// these come the pass@k curve (<see cref="PassAtK"/>) and paired comparisons between stages (<see cref="PairedBootstrap"/>).
/// Compared by value, so cells stay comparable records.
/// </summary>
public sealed class ProblemScores(int samples, IReadOnlyList<int> correct) : IEquatable<ProblemScores>
{
    public static ProblemScores Empty { get; } = new(0, []);

    public int Samples { get; } = samples;
    public IReadOnlyList<int> Correct { get; } = correct;

    /// <summary>pass@k for k = 1 … Samples.</summary>
    public double[] PassAtKCurve() => Correct.Count == 0 || Samples == 0 ? [] : PassAtK.Curve(Correct.Select(c => (Samples, c)).ToList(), Samples);

    /// <summary>Each problem's pass@1 (its share of correct samples), for paired comparisons.</summary>
    public double[] PassAt1PerProblem() => Correct.Select(c => Samples == 0 ? 0 : (double)c / Samples).ToArray();

    /// <summary>Each problem's unbiased pass@k estimate (<see cref="PassAtK.Estimate"/>), for paired comparisons at k.</summary>
    public double[] PassAtKPerProblem(int k) => k == 1 ? PassAt1PerProblem() : Correct.Select(c => PassAtK.Estimate(Samples, c, k)).ToArray();

    public bool Equals(ProblemScores? other) => other is not null && Samples == other.Samples && Correct.SequenceEqual(other.Correct);
    public override bool Equals(object? obj) => Equals(obj as ProblemScores);
    public override int GetHashCode() => HashCode.Combine(Samples, Correct.Count, Correct.Count > 0 ? Correct[0] : 0);
}

/// <summary>
/// pass@1 and maj@k on problems of one split (Test for the final table, Dev for monitoring), per task and difficulty, with thinking (the R1 prompt) and without (an
/// empty think block pre-filled). pass@1 is the mean accuracy of k samples at temperature 0.6 (R1's definition);
/// maj@k takes the most frequent answer of the k (integer answers compared by value, Countdown answers as
/// "reaches the target" or their text) and scores it. With a data-parallel sampler each cell's problems are split over
/// the ranks (a problem's k samples together) and every rank scores every completion, so all ranks return the same cells.
/// </summary>
public static class ReasoningEvaluator
{
    public static List<EvaluationCell> Evaluate(string stage, RolloutSampler sampler, ProblemFormat format, EvaluationSettings settings,
        bool[] modes, Action<double>? progress = null)
    {
        var cells = new List<EvaluationCell>();
        int total = modes.Length * settings.Kinds.Count * settings.MaxDifficulty, done = 0;
        foreach (bool thinking in modes)
            foreach (var kind in settings.Kinds)
                for (int d = 1; d <= settings.MaxDifficulty; d++)
                {
                    var problems = ProblemGenerator.DistinctSet(kind, d, settings.Split, settings.ProblemsPerCell, settings.Seed);
                    var requests = new List<RolloutRequest>();
                    foreach (var p in problems)
                    {
                        var prompt = format.Prompt(p, thinking);
                        for (int s = 0; s < settings.Samples; s++)
                            requests.Add(new RolloutRequest(prompt, settings.Temperature, DeterministicRandom.SeedFor(settings.Seed, $"eval/{p.CanonicalKey}/{thinking}/{s}"), format.StopStrings));
                    }
                    var outputs = sampler.Generate(requests, settings.MaxNewTokens, group: Math.Max(1, settings.Samples));
                    double pass = 0, majority = 0, tokens = 0;
                    var correct = new int[problems.Count];
                    for (int i = 0; i < problems.Count; i++)
                    {
                        var votes = new Dictionary<string, (int Count, bool Correct)>(StringComparer.Ordinal);
                        for (int s = 0; s < settings.Samples; s++)
                        {
                            var output = outputs[i * settings.Samples + s];
                            tokens += output.Length;
                            var reward = format.Score(problems[i], output, thinking);
                            pass += reward.Accuracy;
                            if (reward.Accuracy > 0) correct[i]++;
                            if (reward.Answer is null) continue;
                            string key = VoteKey(problems[i], reward.Answer, reward.Accuracy > 0);
                            votes[key] = votes.TryGetValue(key, out var v) ? (v.Count + 1, v.Correct) : (1, reward.Accuracy > 0);
                        }
                        // Ties go to the answer seen first in key order, which is fixed, so the result is reproducible.
                        if (votes.Count > 0 && votes.OrderByDescending(v => v.Value.Count).ThenBy(v => v.Key, StringComparer.Ordinal).First().Value.Correct)
                            majority++;
                    }
                    int n = Math.Max(problems.Count, 1);
                    cells.Add(new EvaluationCell(stage, thinking, kind, d, problems.Count, pass / (n * settings.Samples), majority / n, tokens / (n * settings.Samples))
                    {
                        Solved = new ProblemScores(settings.Samples, correct),
                    });
                    progress?.Invoke(++done / (double)total);
                }
        return cells;
    }

    private static string VoteKey(ReasoningProblem problem, string answer, bool correct)
    {
        if (problem.Kind == TaskKind.Countdown) return correct ? "=target" : answer.Trim();
        return AnswerVerifier.TryParseInteger(answer, out long v) ? v.ToString(CultureInfo.InvariantCulture) : answer.Trim();
    }

    /// <summary>
    /// A metric over several cells as over their problems pooled: cells weighted by their problem counts (some cells
    /// hold fewer distinct problems than asked), so a row's "all" is the mean the paired comparisons are taken over.
    /// </summary>
    public static double Pooled(IEnumerable<EvaluationCell> cells, Func<EvaluationCell, double> metric)
    {
        double sum = 0, weight = 0;
        foreach (var c in cells)
        {
            sum += metric(c) * c.Problems;
            weight += c.Problems;
        }
        return weight == 0 ? 0 : sum / weight;
    }

    private static string Pct(double x) => (100 * x).ToString("F1", CultureInfo.InvariantCulture);

    /// <summary>
    /// Summary (stage × mode rows; per difficulty, all tasks pooled) and the per-task table, in markdown. A stage
    /// evaluated for several seeds shows their mean.
    /// </summary>
    public static string MarkdownTable(IReadOnlyList<EvaluationCell> cells, int k)
    {
        var s = new StringBuilder();
        int maxD = cells.Max(c => c.Difficulty);
        s.Append("| stage | thinking |");
        for (int d = 1; d <= maxD; d++) s.Append($" D{d} pass@1 | D{d} maj@{k} |");
        s.Append(" all pass@1 | mean tokens |\n|---|---|");
        for (int d = 1; d <= maxD; d++) s.Append("---:|---:|");
        s.Append("---:|---:|\n");
        foreach (var group in cells.GroupBy(c => (c.Stage, c.Thinking)))
        {
            s.Append($"| {group.Key.Stage} | {(group.Key.Thinking ? "yes" : "no")} |");
            for (int d = 1; d <= maxD; d++)
            {
                var level = group.Where(c => c.Difficulty == d).ToList();
                s.Append($" {Pct(Pooled(level, c => c.PassAt1))} | {Pct(Pooled(level, c => c.MajorityAtK))} |");
            }
            s.Append($" {Pct(Pooled(group, c => c.PassAt1))} | {Pooled(group, c => c.MeanTokens).ToString("F1", CultureInfo.InvariantCulture)} |\n");
        }
        s.Append("\nPer task (pass@1 / maj@").Append(k).Append(", %):\n\n| stage | thinking | task |");
        for (int d = 1; d <= maxD; d++) s.Append($" D{d} |");
        s.Append("\n|---|---|---|");
        for (int d = 1; d <= maxD; d++) s.Append("---:|");
        s.Append('\n');
        foreach (var group in cells.GroupBy(c => (c.Stage, c.Thinking, c.Kind)))
        {
            s.Append($"| {group.Key.Stage} | {(group.Key.Thinking ? "yes" : "no")} | {group.Key.Kind} |");
            for (int d = 1; d <= maxD; d++)
            {
                // Several seeds of a stage: their mean.
                var level = group.Where(x => x.Difficulty == d).ToList();
                s.Append(level.Count == 0 ? " – |" : $" {Pct(level.Average(c => c.PassAt1))} / {Pct(level.Average(c => c.MajorityAtK))} |");
            }
            s.Append('\n');
        }
        return s.ToString();
    }

    /// <summary>Grouped bars: pass@1 per difficulty (all tasks pooled) for each stage and mode.</summary>
    public static void WriteChart(IReadOnlyList<EvaluationCell> cells, string path, int width = 1000, int height = 500)
    {
        var plot = new ScottPlot.Plot();
        plot.Title("held-out pass@1 by difficulty");
        plot.YLabel("pass@1 (%)");
        var series = cells.GroupBy(c => (c.Stage, c.Thinking)).ToList();
        int maxD = cells.Max(c => c.Difficulty);
        var palette = new ScottPlot.Palettes.Category10();
        for (int i = 0; i < series.Count; i++)
        {
            var bars = new List<ScottPlot.Bar>();
            for (int d = 1; d <= maxD; d++)
            {
                double value = 100 * Pooled(series[i].Where(c => c.Difficulty == d), c => c.PassAt1);
                bars.Add(new ScottPlot.Bar { Position = (d - 1) * (series.Count + 1) + i, Value = value, FillColor = palette.GetColor(i) });
            }
            plot.Add.Bars(bars);
            plot.Legend.ManualItems.Add(new ScottPlot.LegendItem
            {
                LabelText = $"{series[i].Key.Stage} ({(series[i].Key.Thinking ? "thinking" : "no thinking")})",
                FillColor = palette.GetColor(i),
            });
        }
        var ticks = Enumerable.Range(1, maxD).Select(d => new ScottPlot.Tick((d - 1) * (series.Count + 1) + (series.Count - 1) / 2.0, $"difficulty {d}")).ToArray();
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks);
        plot.Axes.SetLimitsY(0, 100);
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        ChartFile.Save(plot, path, width, height);
    }

    /// <summary>Each stage's pass@k curve, k = 1 … samples, averaged over its cells (and seeds): one line per stage.</summary>
    public static Dictionary<string, double[]> PassAtKCurves(IReadOnlyList<EvaluationCell> cells) =>
        cells.GroupBy(c => c.Stage).ToDictionary(g => g.Key, g =>
        {
            var curves = g.Select(c => c.Solved.PassAtKCurve()).Where(c => c.Length > 0).ToList();
            int k = curves.Count == 0 ? 0 : curves.Min(c => c.Length);
            return Enumerable.Range(0, k).Select(i => curves.Average(c => c[i])).ToArray();
        });

    public static void WritePassAtKChart(IReadOnlyList<EvaluationCell> cells, string path, string title, int width = 900, int height = 500)
    {
        var plot = new ScottPlot.Plot();
        plot.Title(title);
        plot.XLabel("k (samples per problem)");
        plot.YLabel("pass@k (%)");
        foreach (var (stage, curve) in PassAtKCurves(cells))
        {
            if (curve.Length == 0) continue;
            var line = plot.Add.ScatterLine(Enumerable.Range(1, curve.Length).Select(k => (double)k).ToArray(), curve.Select(v => 100 * v).ToArray());
            line.LegendText = stage;
        }
        plot.Axes.SetLimitsY(0, 100);
        plot.Axes.SetLimitsX(0, cells.Max(c => c.Solved.Samples) + 1);
        plot.ShowLegend(ScottPlot.Alignment.LowerRight);
        ChartFile.Save(plot, path, width, height);
    }
}
