using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SharpSeek.Reporting;

/// <summary>
/// The chart of a <c>sharpseek train</c> run, drawn from its <c>metrics.jsonl</c>: losses on top (main head, MTP depth 1,
/// validation), expert load max/mean per MoE layer below — the two things to look at to see whether a V3 run is
/// learning and whether its experts stay balanced.
/// </summary>
public static class TrainingChart
{
    /// <param name="firstMtpLayer">num_hidden_layers: layers from here on are labelled as MTP layers.</param>
    public static void Write(string metricsPath, string pngPath, int? firstMtpLayer = null, int width = 1000, int height = 800)
    {
        var steps = new List<(long Step, double Main, double? Mtp, Dictionary<int, double> Load)>();
        var evals = new List<(long Step, double Main)>();
        foreach (string line in File.ReadLines(metricsPath))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonNode? node;
            try { node = JsonNode.Parse(line); }
            catch (JsonException) { continue; } // a line cut short by a kill
            if (node?["step"]?.GetValue<long>() is not long step) continue;
            if (node["kind"]?.GetValue<string>() == "eval")
            {
                evals.Add((step, node["val_loss_main"]!.GetValue<double>()));
                continue;
            }
            var mtp = node["loss_mtp"]?.AsArray();
            var load = new Dictionary<int, double>();
            if (node["expert_load"] is JsonObject layers)
                foreach (var (layer, v) in layers)
                    load[int.Parse(layer, CultureInfo.InvariantCulture)] = v!["max_over_mean"]!.GetValue<double>();
            steps.Add((step, node["loss_main"]!.GetValue<double>(), mtp is { Count: > 0 } ? mtp[0]!.GetValue<double>() : null, load));
        }

        var loss = new ScottPlot.Plot();
        loss.Title("DeepSeek-V3 training");
        loss.YLabel("cross-entropy (nats/token)");
        if (steps.Count > 0)
        {
            double[] x = steps.Select(s => (double)s.Step).ToArray();
            loss.Add.ScatterLine(x, steps.Select(s => s.Main).ToArray()).LegendText = "train (main head)";
            if (steps.All(s => s.Mtp is not null))
                loss.Add.ScatterLine(x, steps.Select(s => s.Mtp!.Value).ToArray()).LegendText = "train (MTP depth 1)";
        }
        if (evals.Count > 0)
        {
            var val = loss.Add.ScatterLine(evals.Select(e => (double)e.Step).ToArray(), evals.Select(e => e.Main).ToArray());
            val.LegendText = "validation (main head)";
            val.MarkerSize = 6;
        }
        loss.ShowLegend(ScottPlot.Alignment.UpperRight);

        var balance = new ScottPlot.Plot();
        balance.XLabel("step");
        balance.YLabel("expert load max / mean");
        foreach (int layer in steps.SelectMany(s => s.Load.Keys).Distinct().Order())
        {
            var points = steps.Where(s => s.Load.ContainsKey(layer)).ToArray();
            balance.Add.ScatterLine(points.Select(s => (double)s.Step).ToArray(), points.Select(s => s.Load[layer]).ToArray()).LegendText =
                layer >= firstMtpLayer ? $"layer {layer} (MTP)" : $"layer {layer}";
        }
        balance.ShowLegend(ScottPlot.Alignment.UpperRight);

        ChartFile.Save(ChartFile.Rows([loss, balance]), pngPath, width, height);
    }
}
