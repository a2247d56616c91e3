using SharpSeek.Reporting;

namespace SharpSeek.Reasoning.Evaluation;

/// <summary>One comparison of two stages over a scope of eval cells ("all", "D2", "Countdown", "Countdown D1").</summary>
public sealed record ComparisonRow(bool Thinking, string Scope, int Problems, int Seeds, DifferenceInterval Interval);

/// <summary>Differences between two stages of a recipe run on the same test problems, and their chart.</summary>
public static class StageComparison
{
    /// <summary>
    /// pass@1 of stage <paramref name="after"/> minus <paramref name="before"/> on the same problems, with a paired
    /// bootstrap 95 % interval over seeds and problems (<see cref="PairedBootstrap"/>; seed s of one stage is paired with
    /// seed s of the other). Per mode over all tasks and difficulties pooled; with thinking also per difficulty, per task
    /// and per cell, so a claim about one split has its own interval. With <paramref name="k"/> > 1 the per-problem
    /// score is the unbiased pass@k estimate instead of pass@1 (the cells need at least k samples).
    /// </summary>
    public static List<ComparisonRow> Compare(IReadOnlyList<EvaluationCell> cells, string after, string before, int k = 1)
    {
        var result = new List<ComparisonRow>();
        foreach (bool thinking in (bool[])[true, false])
        {
            var pairs = new List<(EvaluationCell After, EvaluationCell Before)>();
            foreach (var cell in cells.Where(c => c.Stage == after && c.Thinking == thinking))
                if (cells.FirstOrDefault(c => c.Stage == before && c.Thinking == thinking && c.Kind == cell.Kind && c.Difficulty == cell.Difficulty && c.Replica == cell.Replica) is { } other
                    && other.Solved.Correct.Count == cell.Solved.Correct.Count)
                    pairs.Add((cell, other));
            if (pairs.Count == 0) continue;
            var scopes = new List<(string Name, Func<EvaluationCell, bool> In)> { ("all", _ => true) };
            if (thinking)
            {
                var levels = pairs.Select(p => p.After.Difficulty).Distinct().Order().ToList();
                foreach (int d in levels) scopes.Add(($"D{d}", c => c.Difficulty == d));
                foreach (var kind in pairs.Select(p => p.After.Kind).Distinct().Order())
                {
                    scopes.Add((kind.ToString(), c => c.Kind == kind));
                    foreach (int d in levels) scopes.Add(($"{kind} D{d}", c => c.Kind == kind && c.Difficulty == d));
                }
            }
            foreach (var (name, inScope) in scopes)
            {
                var chosen = pairs.Where(p => inScope(p.After)).ToList();
                var seeds = chosen.Select(p => p.After.Replica).Distinct().Order().ToList();
                var a = seeds.Select(r => chosen.Where(p => p.After.Replica == r).SelectMany(p => p.After.Solved.PassAtKPerProblem(k)).ToArray()).ToList();
                var b = seeds.Select(r => chosen.Where(p => p.After.Replica == r).SelectMany(p => p.Before.Solved.PassAtKPerProblem(k)).ToArray()).ToList();
                // A seed missing a cell would pair different problems: such a scope is left out rather than skewed.
                if (a.Count == 0 || a[0].Length == 0 || a.Any(x => x.Length != a[0].Length)) continue;
                result.Add(new ComparisonRow(thinking, name, a[0].Length, seeds.Count, PairedBootstrap.MeanDifference(a, b)));
            }
        }
        return result;
    }

    /// <summary>
    /// The differences with their intervals, one marker and bar per scope (thinking rows), a series per comparison
    /// side by side, and the zero line: which claims clear "no effect" is visible at a glance.
    /// </summary>
    public static void WriteChart(IReadOnlyList<(string Label, IReadOnlyList<ComparisonRow> Rows)> series, string path, string title, int width = 1400, int height = 520)
    {
        var plot = new ScottPlot.Plot();
        plot.Title(title);
        plot.YLabel("pass@1 difference (points), 95 % interval");
        var scopes = series.SelectMany(s => s.Rows).Where(r => r.Thinking).Select(r => r.Scope).Distinct().ToList();
        if (scopes.Count == 0) return;
        var palette = new ScottPlot.Palettes.Category10();
        double spread = 0.6 / Math.Max(1, series.Count);
        for (int k = 0; k < series.Count; k++)
        {
            var color = palette.GetColor(k);
            foreach (var row in series[k].Rows.Where(r => r.Thinking))
            {
                double x = scopes.IndexOf(row.Scope) + (k - (series.Count - 1) / 2.0) * spread;
                var bar = plot.Add.Line(x, 100 * row.Interval.Low, x, 100 * row.Interval.High);
                bar.Color = color;
                bar.LineWidth = 2;
                var marker = plot.Add.Marker(x, 100 * row.Interval.Difference);
                marker.Color = color;
            }
            plot.Legend.ManualItems.Add(new ScottPlot.LegendItem { LabelText = series[k].Label, FillColor = color, LineColor = color });
        }
        plot.Add.HorizontalLine(0).Color = ScottPlot.Colors.Gray;
        var ticks = scopes.Select((s, i) => new ScottPlot.Tick(i, s)).ToArray();
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks);
        plot.Axes.Bottom.TickLabelStyle.Rotation = 45;
        plot.Axes.Bottom.TickLabelStyle.Alignment = ScottPlot.Alignment.MiddleLeft;
        plot.Axes.Bottom.MinimumSize = 110;
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        ChartFile.Save(plot, path, width, height);
    }
}
