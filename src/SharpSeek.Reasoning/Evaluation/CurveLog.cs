using System.Globalization;
using System.Text;
using System.Text.Json;
using SharpSeek.Reporting;

namespace SharpSeek.Reasoning.Evaluation;

/// <summary>
/// Per-step metrics of the pipeline's stages: one JSON object per line (<c>{"stage":…,"step":…,"metric":value…}</c>),
/// flushed as written so a long run can be watched, and kept in memory for the charts.
/// </summary>
public sealed class CurveLog : IDisposable
{
    private readonly StreamWriter _writer;
    private readonly List<(string Stage, long Step, Dictionary<string, double> Values)> _records = [];

    public CurveLog(string path)
    {
        Path = path;
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        _writer = new StreamWriter(path, append: false, new UTF8Encoding(false)) { AutoFlush = true };
    }

    private CurveLog()
    {
        Path = null;
        _writer = new StreamWriter(Stream.Null);
    }

    /// <summary>A log that keeps its records in memory and writes no file (a data-parallel rank other than 0).</summary>
    public static CurveLog InMemory() => new();

    /// <summary>The metrics file; null for <see cref="InMemory"/>.</summary>
    public string? Path { get; }

    public void Record(string stage, long step, IReadOnlyDictionary<string, double> values)
    {
        var copy = new Dictionary<string, double>(values);
        _records.Add((stage, step, copy));
        var line = new Dictionary<string, object> { ["stage"] = stage, ["step"] = step };
        foreach (var (k, v) in copy) line[k] = Math.Round(v, 6);
        _writer.WriteLine(JsonSerializer.Serialize(line));
    }

    public IReadOnlyList<double> Series(string stage, string metric)
        => _records.Where(r => r.Stage == stage && r.Values.ContainsKey(metric)).Select(r => r.Values[metric]).ToArray();

    /// <summary>One panel per metric group, all against the stage's steps; smoothed by a trailing mean of <paramref name="smooth"/> steps.</summary>
    public void WriteChart(string path, string stage, IReadOnlyList<(string Title, string[] Metrics)> panels, int smooth = 1, int width = 1000, int height = 900)
    {
        var records = _records.Where(r => r.Stage == stage).ToList();
        var plots = new List<ScottPlot.Plot>();
        foreach (var (title, metrics) in panels)
        {
            var plot = new ScottPlot.Plot();
            plot.Title($"{stage}: {title}");
            plot.XLabel("step");
            foreach (string metric in metrics)
            {
                var points = records.Where(r => r.Values.ContainsKey(metric)).ToList();
                if (points.Count == 0) continue;
                double[] x = points.Select(r => (double)r.Step).ToArray();
                double[] y = Smooth(points.Select(r => r.Values[metric]).ToArray(), smooth);
                plot.Add.ScatterLine(x, y).LegendText = smooth > 1 ? $"{metric} (mean of {smooth})" : metric;
            }
            plot.ShowLegend(ScottPlot.Alignment.UpperLeft);
            plots.Add(plot);
        }
        if (plots.Count == 0) throw new ArgumentException("no panels to draw");
        ChartFile.Save(ChartFile.Rows(plots), path, width, height);
    }

    private static double[] Smooth(double[] y, int window)
    {
        if (window <= 1) return y;
        var result = new double[y.Length];
        double sum = 0;
        for (int i = 0; i < y.Length; i++)
        {
            sum += y[i];
            if (i >= window) sum -= y[i - window];
            result[i] = sum / Math.Min(i + 1, window);
        }
        return result;
    }

    public static string Format(double v) => v.ToString("G4", CultureInfo.InvariantCulture);

    public void Dispose() => _writer.Dispose();
}
