using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using SkiaSharp;

namespace SharpSeek.Training.Logging;

/// <summary>
/// The run's record: one JSON object per line in <c>metrics.jsonl</c> (<c>"kind": "step"</c> with loss parts, learning
/// rate, gradient norm, tokens/s, MFU and per-layer expert load; <c>"kind": "eval"</c> with validation losses), and a
/// PNG chart of it (<see cref="WriteChart"/>): losses on top, expert load max/mean per MoE layer below.
/// </summary>
/// <remarks>
/// Reopening the log of a resumed run keeps only the lines up to the checkpoint's step: whatever the interrupted process
/// logged after its last checkpoint is about to be recomputed, and would otherwise appear twice.
/// </remarks>
public sealed class TrainingLog : IDisposable
{
    public const string MetricsFile = "metrics.jsonl";
    public const string ChartFile = "training.png";

    private readonly StreamWriter _writer;
    private readonly List<(long Step, double Main, double? Mtp, Dictionary<int, double> Load)> _steps = [];
    private readonly List<(long Step, double Main)> _evals = [];

    /// <param name="keepThroughStep">Lines of earlier runs with a step above this are dropped (null: start a new log).</param>
    public TrainingLog(string directory, long? keepThroughStep = null)
    {
        Directory.CreateDirectory(directory);
        Path = System.IO.Path.Combine(directory, MetricsFile);
        var kept = new List<string>();
        if (keepThroughStep is long keep && File.Exists(Path))
            foreach (string line in File.ReadAllLines(Path))
            {
                if (string.IsNullOrWhiteSpace(line)) continue;
                JsonNode? node;
                try { node = JsonNode.Parse(line); }
                catch (JsonException) { continue; } // a line cut short by the kill
                if (node?["step"]?.GetValue<long>() is not long step || step > keep) continue;
                kept.Add(line);
                Remember(node!);
            }
        File.WriteAllLines(Path, kept);
        _writer = new StreamWriter(Path, append: true) { AutoFlush = true };
    }

    public string Path { get; }

    public void Step(StepReport r, double modelFlopsPerToken, double peakGflops)
    {
        double mfu = peakGflops > 0 ? modelFlopsPerToken * r.TokensPerSecond / (peakGflops * 1e9) : double.NaN;
        var load = new JsonObject();
        foreach (var (layer, counts) in r.ExpertLoad.OrderBy(kv => kv.Key))
            load[layer.ToString(CultureInfo.InvariantCulture)] = new JsonObject
            {
                ["max_over_mean"] = Round(StepReport.MaxOverMean(counts)),
                ["tokens"] = new JsonArray(counts.Select(c => (JsonNode)c).ToArray()),
            };
        var line = new JsonObject
        {
            ["kind"] = "step",
            ["step"] = r.Step,
            ["loss"] = Round(r.Loss),
            ["loss_main"] = Round(r.MainLoss),
            ["loss_mtp"] = new JsonArray(r.MtpLosses.Select(l => (JsonNode)Round(l)).ToArray()),
            ["loss_balance"] = Round(r.BalanceLoss),
            ["lr"] = r.LearningRate,
            ["grad_norm"] = Round(r.GradientNorm),
            ["tokens"] = r.Tokens,
            ["seconds"] = Round(r.Seconds),
            ["tokens_per_s"] = Round(r.TokensPerSecond),
            ["mfu"] = double.IsFinite(mfu) ? Round(mfu) : null,
            ["expert_load"] = load,
        };
        Append(line);
    }

    public void Evaluation(long step, EvaluationReport e)
    {
        Append(new JsonObject
        {
            ["kind"] = "eval",
            ["step"] = step,
            ["val_loss_main"] = Round(e.MainLoss),
            ["val_loss_mtp"] = new JsonArray(e.MtpLosses.Select(l => (JsonNode)Round(l)).ToArray()),
            ["tokens"] = e.Tokens,
        });
    }

    private void Append(JsonObject line)
    {
        _writer.WriteLine(line.ToJsonString());
        Remember(line);
    }

    private void Remember(JsonNode node)
    {
        long step = node["step"]!.GetValue<long>();
        if (node["kind"]?.GetValue<string>() == "eval")
        {
            _evals.Add((step, node["val_loss_main"]!.GetValue<double>()));
            return;
        }
        var mtp = node["loss_mtp"]?.AsArray();
        var load = new Dictionary<int, double>();
        if (node["expert_load"] is JsonObject layers)
            foreach (var (layer, v) in layers)
                load[int.Parse(layer, CultureInfo.InvariantCulture)] = v!["max_over_mean"]!.GetValue<double>();
        _steps.Add((step, node["loss_main"]!.GetValue<double>(), mtp is { Count: > 0 } ? mtp[0]!.GetValue<double>() : null, load));
    }

    private static double Round(double x) => Math.Round(x, 6);

    /// <summary>Renders the chart to <paramref name="path"/> (written to a temporary name, then renamed).</summary>
    /// <param name="firstMtpLayer">num_hidden_layers: layers from here on are labelled as MTP layers.</param>
    public void WriteChart(string path, int? firstMtpLayer = null, int width = 1000, int height = 800)
    {
        var loss = new ScottPlot.Plot();
        loss.Title("DeepSeek-V3 training");
        loss.YLabel("cross-entropy (nats/token)");
        if (_steps.Count > 0)
        {
            double[] x = _steps.Select(s => (double)s.Step).ToArray();
            var main = loss.Add.ScatterLine(x, _steps.Select(s => s.Main).ToArray());
            main.LegendText = "train (main head)";
            if (_steps.All(s => s.Mtp is not null))
                loss.Add.ScatterLine(x, _steps.Select(s => s.Mtp!.Value).ToArray()).LegendText = "train (MTP depth 1)";
        }
        if (_evals.Count > 0)
        {
            var val = loss.Add.ScatterLine(_evals.Select(e => (double)e.Step).ToArray(), _evals.Select(e => e.Main).ToArray());
            val.LegendText = "validation (main head)";
            val.MarkerSize = 6;
        }
        loss.ShowLegend(ScottPlot.Alignment.UpperRight);

        var load = new ScottPlot.Plot();
        load.XLabel("step");
        load.YLabel("expert load max / mean");
        foreach (int layer in _steps.SelectMany(s => s.Load.Keys).Distinct().Order())
        {
            var points = _steps.Where(s => s.Load.ContainsKey(layer)).ToArray();
            load.Add.ScatterLine(points.Select(s => (double)s.Step).ToArray(), points.Select(s => s.Load[layer]).ToArray()).LegendText =
                layer >= firstMtpLayer ? $"layer {layer} (MTP)" : $"layer {layer}";
        }
        load.ShowLegend(ScottPlot.Alignment.UpperRight);

        var chart = new ScottPlot.Multiplot(loss);
        chart.Subplots.Add(load);
        chart.Layout = new ScottPlot.MultiplotLayouts.Rows();
        using var surface = SKSurface.Create(new SKImageInfo(width, height));
        chart.Render(surface.Canvas, new ScottPlot.PixelRect(0, width, height, 0));
        using var image = surface.Snapshot();
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        string temp = path + $".{Guid.NewGuid():N}.tmp";
        File.WriteAllBytes(temp, png.ToArray());
        File.Move(temp, path, overwrite: true);
    }

    public void Dispose() => _writer.Dispose();
}
