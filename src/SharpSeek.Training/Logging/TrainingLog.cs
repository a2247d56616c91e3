using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SharpSeek.Training.Logging;

/// <summary>
/// The run's record: one JSON object per line in <c>metrics.jsonl</c> (<c>"kind": "step"</c> with loss parts, learning
/// rate, gradient norm, tokens/s, MFU, ranks and the share of the step spent communicating, and per-layer expert load; <c>"kind": "eval"</c> with validation losses). Its chart
/// (<see cref="ChartFile"/>) is drawn from this file by the reporting layer (<c>SharpSeek.Reporting.TrainingChart</c>),
/// so the training core carries no graphics.
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
            }
        // Rewritten whole or not at all: a kill here must not lose the lines being kept.
        SharpSeek.Formats.AtomicFile.WriteAllText(Path, string.Concat(kept.Select(l => l + Environment.NewLine)));
        _writer = new StreamWriter(Path, append: true) { AutoFlush = true };
    }

    public string Path { get; }

    /// <param name="peakGflops">The FMA peak of the whole job (every rank's measured peak added up).</param>
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
            ["ranks"] = r.Ranks,
            ["comm_share"] = r.Seconds > 0 ? Round(r.CommunicationSeconds / r.Seconds) : 0,
            ["expert_rank_imbalance"] = r.ExpertRankImbalance > 0 ? Round(r.ExpertRankImbalance) : null,
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

    private void Append(JsonObject line) => _writer.WriteLine(line.ToJsonString());

    private static double Round(double x) => Math.Round(x, 6);

    public void Dispose() => _writer.Dispose();
}
