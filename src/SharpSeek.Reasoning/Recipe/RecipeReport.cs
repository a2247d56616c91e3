using System.Globalization;
using System.Text;
using System.Text.Json;
using SharpSeek.Reporting;

namespace SharpSeek.Reasoning.Recipe;

/// <summary>What one recipe run's <c>recipe.json</c> says about the R1 line: pooled test pass@1 with thinking, and the comparisons' "all" rows.</summary>
public sealed record RecipeRunSummary(string Name, long Parameters, int Seeds, IReadOnlyDictionary<string, double> PassAt1,
    (double Difference, double Low, double High)? GrpoVsSft, (double Difference, double Low, double High)? GrpoVsControl);

/// <summary>
/// Several recipe runs side by side (a scaling study: the same recipe at several <c>--width</c>/<c>--depth</c>): a
/// markdown table and a chart of pass@1 per stage and of GRPO's gain against model size.
/// </summary>
public static class RecipeReport
{
    /// <summary>The stages a report shows, in order.</summary>
    public static readonly string[] Stages = ["SFT", "GRPO", R1Recipe.ControlStage];

    public static RecipeRunSummary Read(string directory)
    {
        string path = Path.Combine(directory, "recipe.json");
        if (!File.Exists(path)) throw new FileNotFoundException($"{directory} holds no recipe.json (not a finished `r1 recipe` output)", path);
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var root = doc.RootElement;
        try
        {
            var passAt1 = new Dictionary<string, double>();
            foreach (string stage in Stages)
            {
                // Pooled over problems (cells weighted by their problem counts), as the comparisons are.
                var values = root.GetProperty("eval").EnumerateArray()
                    .Where(c => c.GetProperty("stage").GetString() == stage && c.GetProperty("thinking").GetBoolean())
                    .Select(c => (P: c.GetProperty("pass_at_1").GetDouble(), N: c.TryGetProperty("problems", out var n) ? n.GetInt32() : 1)).ToList();
                if (values.Count > 0) passAt1[stage] = values.Sum(v => v.P * v.N) / values.Sum(v => v.N);
            }
            return new RecipeRunSummary(Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory))),
                root.GetProperty("parameters").GetInt64(), root.TryGetProperty("seeds", out var s) ? s.GetInt32() : 1, passAt1,
                AllRow(root, "grpo_vs_sft"), AllRow(root, "grpo_vs_control"));
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{path} is not a recipe summary this version reads: {e.Message}", e);
        }
    }

    private static (double, double, double)? AllRow(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var rows)) return null;
        foreach (var r in rows.EnumerateArray())
            if (r.GetProperty("thinking").GetBoolean() && (!r.TryGetProperty("scope", out var scope) || scope.GetString() == "all"))
                return (r.GetProperty("difference").GetDouble(), r.GetProperty("ci95_low").GetDouble(), r.GetProperty("ci95_high").GetDouble());
        return null;
    }

    public static string Markdown(IReadOnlyList<RecipeRunSummary> runs)
    {
        static string Pct(double x) => (100 * x).ToString("F1", CultureInfo.InvariantCulture);
        static string Signed(double x) => (100 * x).ToString("+0.0;−0.0;0.0", CultureInfo.InvariantCulture);
        static string Ci((double D, double L, double H)? c) => c is { } v ? $"{Signed(v.D)} [{Signed(v.L)}, {Signed(v.H)}]" : "–";
        var s = new StringBuilder("| run | parameters | seeds |");
        foreach (string stage in Stages) s.Append($" {stage} |");
        s.Append(" GRPO − SFT [95 %] | GRPO − control [95 %] |\n|---|---:|---:|");
        foreach (var _ in Stages) s.Append("---:|");
        s.Append("---:|---:|\n");
        foreach (var r in runs.OrderBy(r => r.Parameters))
        {
            s.Append(CultureInfo.InvariantCulture, $"| {r.Name} | {r.Parameters:N0} | {r.Seeds} |");
            foreach (string stage in Stages) s.Append(r.PassAt1.TryGetValue(stage, out double v) ? $" {Pct(v)} |" : " – |");
            s.Append($" {Ci(r.GrpoVsSft)} | {Ci(r.GrpoVsControl)} |\n");
        }
        return s.ToString();
    }

    /// <summary>Top: pass@1 (thinking, all test problems) per stage against parameters. Bottom: GRPO − SFT with its interval.</summary>
    public static void WriteChart(IReadOnlyList<RecipeRunSummary> runs, string path)
    {
        var ordered = runs.OrderBy(r => r.Parameters).ToList();
        double[] x = ordered.Select(r => Math.Log10(r.Parameters)).ToArray();
        var top = new ScottPlot.Plot();
        top.Title("test pass@1 with thinking by model size");
        top.YLabel("pass@1 (%)");
        foreach (string stage in Stages)
        {
            var points = ordered.Select((r, i) => (X: x[i], Has: r.PassAt1.TryGetValue(stage, out double v), V: v)).Where(p => p.Has).ToList();
            if (points.Count == 0) continue;
            top.Add.ScatterLine(points.Select(p => p.X).ToArray(), points.Select(p => 100 * p.V).ToArray()).LegendText = stage;
        }
        top.ShowLegend(ScottPlot.Alignment.UpperLeft);
        var bottom = new ScottPlot.Plot();
        bottom.YLabel("GRPO − SFT (points), 95 %");
        bottom.XLabel("parameters (log scale)");
        for (int i = 0; i < ordered.Count; i++)
            if (ordered[i].GrpoVsSft is { } c)
            {
                var bar = bottom.Add.Line(x[i], 100 * c.Low, x[i], 100 * c.High);
                bar.LineWidth = 2;
                bar.Color = ScottPlot.Colors.SteelBlue;
                bottom.Add.Marker(x[i], 100 * c.Difference).Color = ScottPlot.Colors.SteelBlue;
            }
        bottom.Add.HorizontalLine(0).Color = ScottPlot.Colors.Gray;
        // Both panels on the same x range, with a margin so the end points' bars show.
        double lo = x.Min() - 0.1, hi = x.Max() + 0.1;
        top.Axes.SetLimitsX(lo, hi);
        bottom.Axes.SetLimitsX(lo, hi);
        var ticks = ordered.Select((r, i) => new ScottPlot.Tick(x[i], (r.Parameters / 1e6).ToString("0.0#", CultureInfo.InvariantCulture) + "M")).DistinctBy(t => t.Position).ToArray();
        foreach (var plot in new[] { top, bottom }) plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks);
        ChartFile.Save(ChartFile.Rows([top, bottom]), path, 900, 800);
    }
}
