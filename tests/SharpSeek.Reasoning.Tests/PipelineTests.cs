using System.Text.Json;
using SharpSeek.Model;
using SharpSeek.Reasoning.Recipe;
using SharpSeek.Reasoning.Tasks;
using SharpSeek.Tokenizer;
using SharpSeek.Tokenizer.Chat;
using SharpSeek.Training.Checkpoints;

namespace SharpSeek.Reasoning.Tests;

public class PipelineTests
{
    [Fact]
    public void Overlong_filtering_runs_through_the_recipe_and_reports_cut_responses()
    {
        string root = Path.Combine(Path.GetTempPath(), "sharpseek-r1-overlong-" + Guid.NewGuid().ToString("N"));
        try
        {
            var ci = RecipeSettings.ContinuousIntegration(5);
            // An 8-token budget is too small for most traces, so some responses are cut and filtered out of the loss.
            var result = new R1Recipe(ci with { GrpoMaxNewTokens = 8, Grpo = ci.Grpo with { FilterOverlong = true } }).Run(root);
            var cut = File.ReadLines(Path.Combine(result.OutputDirectory, "metrics.jsonl")).Where(l => l.Contains("\"grpo\""))
                .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("cut_responses").GetDouble()).ToList();
            Assert.Equal(ci.GrpoSteps, cut.Count);
            Assert.All(cut, c => Assert.InRange(c, 0, 1));
            Assert.Contains(cut, c => c > 0);
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void Ci_recipe_runs_end_to_end_and_reproduces()
    {
        string root = Path.Combine(Path.GetTempPath(), "sharpseek-r1-" + Guid.NewGuid().ToString("N"));
        try
        {
            var stages = new HashSet<string>();
            var first = new R1Recipe(RecipeSettings.ContinuousIntegration(5), (stage, _, _, _) => stages.Add(stage)).Run(Path.Combine(root, "a"));
            foreach (string file in new[] { "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "eval.md", "eval.png",
                         "metrics.jsonl", "curves-grpo.png", "curves-grpo-eval.png", "curves-pretrain.png", "curves-sft.png", "recipe.json",
                         "curves-r1-zero.png", "curves-r1-zero-eval.png", "comparisons.png", "pass-at-k.png" })
                Assert.True(File.Exists(Path.Combine(first.OutputDirectory, file)), file);
            Assert.Contains("pretrain", stages);
            Assert.Contains("grpo", stages);
            Assert.Contains("r1-zero", stages);
            Assert.Contains("sft-control", stages);
            // (base, SFT and GRPO in both modes, the control and R1-Zero's two rows with thinking) × tasks × difficulties
            Assert.Equal((3 * 2 + 3) * 4 * 3, first.Evaluation.Count);
            Assert.Equal(4 * 3, first.Evaluation.Count(c => c.Stage == R1Recipe.ControlStage && c.Thinking));
            Assert.Equal(4 * 3, first.Evaluation.Count(c => c.Stage == R1Recipe.ZeroStage && c.Thinking));
            Assert.Equal(4 * 3, first.Evaluation.Count(c => c.Stage == R1Recipe.ZeroBaseStage && c.Thinking));
            // Each cell carries its problems' outcomes: pass@1 from them is the table's, and the pass@k curve rises.
            foreach (var cell in first.Evaluation)
            {
                Assert.Equal(cell.Problems, cell.Solved.Correct.Count);
                var curve = cell.Solved.PassAtKCurve();
                Assert.Equal(RecipeSettings.ContinuousIntegration(5).Evaluation.Samples, curve.Length);
                Assert.Equal(cell.PassAt1, curve[0], 9);
                for (int k = 1; k < curve.Length; k++) Assert.True(curve[k] >= curve[k - 1] - 1e-12);
            }
            using (var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(first.OutputDirectory, "recipe.json"))))
            {
                var comparisons = summary.RootElement.GetProperty("grpo_vs_sft").EnumerateArray().ToList();
                // With thinking: all, per difficulty, per task and per cell (1 + 3 + 4 × 4); without: all.
                Assert.Equal(21, comparisons.Count);
                Assert.Equal(["all", "D1", "D2", "D3", "Arithmetic", "Arithmetic D1"], comparisons.Take(6).Select(c => c.GetProperty("scope").GetString()));
                Assert.All(comparisons, c => Assert.Equal(1, c.GetProperty("seeds").GetInt32()));
                Assert.Equal(20, summary.RootElement.GetProperty("grpo_vs_control").GetArrayLength()); // thinking only
                // GRPO's cells were chosen on dev from all 12 (the probe runs by default).
                Assert.Equal(4 * 3, Assert.Single(summary.RootElement.GetProperty("grpo_room").EnumerateArray()).GetProperty("cells").GetArrayLength());
                // The control spent GRPO's compute on SFT (to within the rounding of a few steps' worth).
                var compute = summary.RootElement.GetProperty("compute");
                double grpoCompute = compute.GetProperty("grpo").GetDouble(), controlCompute = compute.GetProperty("sft-control").GetDouble();
                Assert.InRange(controlCompute / grpoCompute, 0.75, 1.25);
                // The many-samples pass@k curves of SFT and GRPO, k = 1 … samples, and GRPO − SFT at the largest k.
                var passAtK = summary.RootElement.GetProperty("pass_at_k");
                int samples = RecipeSettings.ContinuousIntegration(5).PassAtKEvaluation!.Samples;
                foreach (string stage in new[] { "SFT", "GRPO" })
                {
                    var curve = passAtK.GetProperty(stage).EnumerateArray().Select(v => v.GetDouble()).ToList();
                    Assert.Equal(samples, curve.Count);
                    for (int k = 1; k < curve.Count; k++) Assert.True(curve[k] >= curve[k - 1] - 1e-9);
                }
                Assert.Equal(21 - 1, summary.RootElement.GetProperty("grpo_vs_sft_pass_at_max_k").GetArrayLength()); // thinking only
                comparisons.AddRange(summary.RootElement.GetProperty("r1_zero_vs_base").EnumerateArray());
                // The off-topic reply rate of every chat stage, on the held-out messages.
                var offTopic = summary.RootElement.GetProperty("off_topic_replies");
                foreach (string stage in new[] { "base", "SFT", "GRPO" })
                    Assert.InRange(offTopic.GetProperty(stage).GetDouble(), 0, 1);
                Assert.Equal(OffTopic.Messages(DataSplit.Test).Count, offTopic.GetProperty("messages").GetInt32());
                Assert.Equal(21 + 20, comparisons.Count); // R1-Zero reasons in plain text: one mode
                foreach (var c in comparisons)
                {
                    double d = c.GetProperty("difference").GetDouble();
                    Assert.InRange(d, c.GetProperty("ci95_low").GetDouble(), c.GetProperty("ci95_high").GetDouble());
                }
            }

            // GRPO logged every metric the issue asks for.
            var grpo = File.ReadLines(Path.Combine(first.OutputDirectory, "metrics.jsonl")).Where(l => l.Contains("\"grpo\"")).ToList();
            Assert.NotEmpty(grpo);
            using (var doc = JsonDocument.Parse(grpo[0]))
                foreach (string key in new[] { "reward", "accuracy", "response_tokens", "cut_responses", "kl", "clip_fraction" })
                    Assert.True(doc.RootElement.TryGetProperty(key, out _), key);
            // R1-Zero's GRPO logged its own curve, with the response length and the self-check share the issue asks to track.
            var zero = File.ReadLines(Path.Combine(first.OutputDirectory, "metrics.jsonl")).Where(l => l.Contains("\"r1-zero\"")).ToList();
            Assert.Equal(RecipeSettings.ContinuousIntegration(5).ZeroSteps, zero.Count);
            using (var doc = JsonDocument.Parse(zero[^1]))
                foreach (string key in new[] { "reward", "accuracy", "format", "response_tokens", "self_check", "cut_responses", "kl" })
                    Assert.True(doc.RootElement.TryGetProperty(key, out _), key);
            Assert.Equal(2, File.ReadLines(Path.Combine(first.OutputDirectory, "metrics.jsonl")).Count(l => l.Contains("\"r1-zero-eval\"")));
            // ...and the held-out monitoring curve: before the first step and after the last, every difficulty.
            var monitor = File.ReadLines(Path.Combine(first.OutputDirectory, "metrics.jsonl")).Where(l => l.Contains("\"grpo-eval\"")).ToList();
            Assert.Equal(2, monitor.Count);
            using (var doc = JsonDocument.Parse(monitor[^1]))
            {
                Assert.Equal(RecipeSettings.ContinuousIntegration(5).GrpoSteps, doc.RootElement.GetProperty("step").GetInt32());
                foreach (string key in new[] { "all", "D1", "D2", "D3" })
                    Assert.InRange(doc.RootElement.GetProperty(key).GetDouble(), 0, 1);
            }

            // The saved directory is a model the inference stack loads, with an R1 chat template.
            var (config, weights) = TrainingCheckpoint.LoadForInference(first.OutputDirectory);
            using (weights)
            using (var model = LanguageModel.Create(config, weights))
            using (var session = model.CreateSession(32))
                Assert.Equal(config.VocabSize, session.Prefill([0, 5, 6]).Length);
            var tokenizer = ByteLevelBpeTokenizer.FromDirectory(first.OutputDirectory);
            Assert.Equal(ChatTemplateKind.DeepSeekR1, tokenizer.ChatTemplate?.Kind);

            // The second run also writes its SFT checkpoint; a third resumes from it and must reach the same GRPO model.
            string checkpoint = Path.Combine(root, "sft.bin"), pretrained = Path.Combine(root, "pretrain.bin");
            var second = new R1Recipe(RecipeSettings.ContinuousIntegration(5) with { SftCheckpoint = checkpoint, PretrainCheckpoint = pretrained }).Run(Path.Combine(root, "b"));
            Assert.Equal(first.EvaluationTable, second.EvaluationTable);
            Assert.Equal(File.ReadAllBytes(Path.Combine(first.OutputDirectory, "model.safetensors")),
                File.ReadAllBytes(Path.Combine(second.OutputDirectory, "model.safetensors")));
            Assert.True(File.Exists(checkpoint));
            var resumed = new R1Recipe(RecipeSettings.ContinuousIntegration(5) with { SftCheckpoint = checkpoint }).Run(Path.Combine(root, "c"));
            // No pretrained weights in an SFT checkpoint, so no base row and no R1-Zero.
            Assert.DoesNotContain(resumed.Evaluation, c => c.Stage is "base" or R1Recipe.ZeroStage or R1Recipe.ZeroBaseStage);
            Assert.Equal(first.Evaluation.Where(c => c.Stage is not ("base" or R1Recipe.ZeroStage or R1Recipe.ZeroBaseStage)), resumed.Evaluation);
            Assert.Equal(File.ReadAllBytes(Path.Combine(first.OutputDirectory, "model.safetensors")),
                File.ReadAllBytes(Path.Combine(resumed.OutputDirectory, "model.safetensors")));

            // With the pretraining checkpoint beside the SFT checkpoint, a resumed run also has the base and R1-Zero:
            // it is the full run, every evaluation and the weights, without pretraining or SFT.
            var resumedBoth = new R1Recipe(RecipeSettings.ContinuousIntegration(5) with { SftCheckpoint = checkpoint, PretrainCheckpoint = pretrained },
                (stage, _, _, _) => Assert.False(stage is "pretrain" or "sft", stage)).Run(Path.Combine(root, "c2"));
            Assert.Equal(first.Evaluation, resumedBoth.Evaluation);
            Assert.Equal(File.ReadAllBytes(Path.Combine(first.OutputDirectory, "model.safetensors")),
                File.ReadAllBytes(Path.Combine(resumedBoth.OutputDirectory, "model.safetensors")));

            // Resuming from the pretraining checkpoint skips only pretraining: every evaluation and the weights match.
            Assert.True(File.Exists(pretrained));
            Assert.True(File.Exists(pretrained + ".optimizer.safetensors"));
            var fromPretrained = new R1Recipe(RecipeSettings.ContinuousIntegration(5) with { PretrainCheckpoint = pretrained }, (stage, _, _, _) => Assert.NotEqual("pretrain", stage)).Run(Path.Combine(root, "d"));
            Assert.Equal(first.Evaluation, fromPretrained.Evaluation);
            Assert.Equal(File.ReadAllBytes(Path.Combine(first.OutputDirectory, "model.safetensors")),
                File.ReadAllBytes(Path.Combine(fromPretrained.OutputDirectory, "model.safetensors")));

            // Two fine-tuning seeds from the same pretrained model: the first is the one-seed run, the second its own.
            var twoSeeds = new R1Recipe(RecipeSettings.ContinuousIntegration(5) with { PretrainCheckpoint = pretrained, Seeds = 2, ZeroSteps = 0, DistillProblems = 0 })
                .Run(Path.Combine(root, "e"));
            foreach (string stage in new[] { "SFT", "GRPO", R1Recipe.ControlStage })
            {
                Assert.Equal(first.Evaluation.Where(c => c.Stage == stage), twoSeeds.Evaluation.Where(c => c.Stage == stage && c.Replica == 0));
                Assert.Equal(4 * 3, twoSeeds.Evaluation.Count(c => c.Stage == stage && c.Replica == 1 && c.Thinking));
                Assert.DoesNotContain(twoSeeds.Evaluation, c => c.Replica == 1 && !c.Thinking); // the second seed is asked with thinking only
            }
            Assert.Equal(File.ReadAllBytes(Path.Combine(first.OutputDirectory, "model.safetensors")),
                File.ReadAllBytes(Path.Combine(twoSeeds.OutputDirectory, "model.safetensors")));
            // The second seed drew its own SFT batches (its loss curve differs) and logged its own GRPO curve.
            var lines = File.ReadLines(Path.Combine(twoSeeds.OutputDirectory, "metrics.jsonl")).ToList();
            double[] Losses(string stage) => lines.Where(l => l.Contains($"\"stage\":\"{stage}\"")).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("loss").GetDouble()).ToArray();
            Assert.Equal(RecipeSettings.ContinuousIntegration(5).SftSteps, Losses("sft#2").Length);
            Assert.NotEqual(Losses("sft"), Losses("sft#2"));
            Assert.Contains(lines, l => l.Contains("\"grpo#2\""));
            using (var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(twoSeeds.OutputDirectory, "recipe.json"))))
                Assert.All(summary.RootElement.GetProperty("grpo_vs_sft").EnumerateArray(),
                    c => Assert.Equal(c.GetProperty("thinking").GetBoolean() ? 2 : 1, c.GetProperty("seeds").GetInt32()));
            // `r1 report` reads finished runs back: pooled pass@1 per stage and the comparisons, as a table and a chart.
            var runs = new[] { first.OutputDirectory, twoSeeds.OutputDirectory }.Select(RecipeReport.Read).ToList();
            Assert.Equal(2, runs[1].Seeds);
            Assert.Equal(first.Parameters, runs[0].Parameters);
            var firstSft = first.Evaluation.Where(c => c.Stage == "SFT" && c.Thinking).ToList();
            Assert.Equal(firstSft.Sum(c => c.PassAt1 * c.Problems) / firstSft.Sum(c => c.Problems), runs[0].PassAt1["SFT"], 3);
            Assert.NotNull(runs[0].GrpoVsSft);
            string report = RecipeReport.Markdown(runs);
            Assert.Contains("| a |", report);
            Assert.Contains("| e |", report);
            RecipeReport.WriteChart(runs, Path.Combine(root, "scaling.png"));
            Assert.True(new FileInfo(Path.Combine(root, "scaling.png")).Length > 1000);
            Assert.Throws<FileNotFoundException>(() => RecipeReport.Read(Path.Combine(root, "missing")));
            Assert.Throws<ArgumentException>(() => new R1Recipe(RecipeSettings.ContinuousIntegration(5) with { SftCheckpoint = checkpoint, Seeds = 2 }).Run(Path.Combine(root, "f")));
            Assert.Throws<ArgumentException>(() => new R1Recipe(RecipeSettings.ContinuousIntegration(5) with { Seeds = 0 }).Run(Path.Combine(root, "g")));
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void Grpo_trains_on_the_cells_chosen_on_dev_and_falls_back_to_all_when_none_has_room()
    {
        string root = Path.Combine(Path.GetTempPath(), "sharpseek-r1-room-" + Guid.NewGuid().ToString("N"));
        try
        {
            var ci = RecipeSettings.ContinuousIntegration(5) with { ZeroSteps = 0, DistillProblems = 0, ComputeMatchedControl = false, PassAtKEvaluation = null };
            var logged = new List<string>();
            // Margin 0 admits every candidate (pass@k ≥ pass@1), so the chosen cells are GRPO's difficulty list × the tasks.
            var every = new R1Recipe(ci with { GrpoDifficulties = [2, 3], GrpoRoom = ci.GrpoRoom! with { Margin = 0 } }, log: logged.Add).Run(Path.Combine(root, "a"));
            using (var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(every.OutputDirectory, "recipe.json"))))
            {
                var run = Assert.Single(summary.RootElement.GetProperty("grpo_room").EnumerateArray());
                Assert.Equal("grpo", run.GetProperty("run").GetString());
                var cells = run.GetProperty("cells").EnumerateArray().ToList();
                Assert.Equal(4 * 2, cells.Count);
                Assert.All(cells, c => Assert.True(c.GetProperty("chosen").GetBoolean()));
                Assert.All(cells, c => Assert.InRange(c.GetProperty("difficulty").GetInt32(), 2, 3));
                Assert.All(cells, c => Assert.True(c.GetProperty("pass_at_k").GetDouble() >= c.GetProperty("pass_at_1").GetDouble() - 1e-9));
            }
            Assert.Contains("grpo trained on the cells with dev pass@4 − pass@1 ≥ 0.00: Arithmetic D2, Arithmetic D3,", File.ReadAllText(Path.Combine(every.OutputDirectory, "eval.md")));
            Assert.Contains(logged, l => l.StartsWith("grpo trains on (chosen on dev): Arithmetic D2", StringComparison.Ordinal));
            // The dev monitor follows the trained cells too.
            var monitor = File.ReadLines(Path.Combine(every.OutputDirectory, "metrics.jsonl")).Last(l => l.Contains("\"grpo-eval\""));
            using (var doc = JsonDocument.Parse(monitor))
                Assert.InRange(doc.RootElement.GetProperty("trained cells").GetDouble(), 0, 1);

            // Margin 1 needs pass@1 = 0 with pass@k = 1, which cannot happen: no cell has room, so GRPO draws from all.
            logged.Clear();
            var none = new R1Recipe(ci with { GrpoRoom = ci.GrpoRoom! with { Margin = 1 } }, log: logged.Add).Run(Path.Combine(root, "b"));
            Assert.Contains(logged, l => l.Contains("no cell has pass@4 − pass@1 ≥ 1.00 on dev; GRPO draws from all 12", StringComparison.Ordinal));
            Assert.Contains("none had room, so all of them", File.ReadAllText(Path.Combine(none.OutputDirectory, "eval.md")));

            // Without the probe there is no room record; and the probe, an evaluation on dev, draws nothing from any
            // training stream: the run whose probe found no room trains exactly the unprobed model.
            var unprobed = new R1Recipe(ci with { GrpoRoom = null }).Run(Path.Combine(root, "c"));
            using (var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(unprobed.OutputDirectory, "recipe.json"))))
                Assert.Equal(0, summary.RootElement.GetProperty("grpo_room").GetArrayLength());
            Assert.Equal(File.ReadAllBytes(Path.Combine(unprobed.OutputDirectory, "model.safetensors")), File.ReadAllBytes(Path.Combine(none.OutputDirectory, "model.safetensors")));
            Assert.Equal(unprobed.Evaluation, none.Evaluation);
            Assert.Throws<ArgumentException>(() => new R1Recipe(ci with { GrpoRoom = ci.GrpoRoom! with { Margin = -0.1 } }).Run(Path.Combine(root, "d")));
            Assert.Throws<ArgumentException>(() => new R1Recipe(ci with { GrpoRoom = ci.GrpoRoom! with { Margin = double.NaN } }).Run(Path.Combine(root, "d")));
            Assert.False(Directory.Exists(Path.Combine(root, "d")));
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void Rejection_sampling_and_a_second_grpo_round_follow_the_first_and_give_the_exported_model()
    {
        string root = Path.Combine(Path.GetTempPath(), "sharpseek-r1-rejection-" + Guid.NewGuid().ToString("N"));
        try
        {
            var settings = RecipeSettings.ContinuousIntegration(5) with { RejectionProblems = 6, RejectionSftSteps = 3, ZeroSteps = 0, DistillProblems = 0 };
            var stages = new HashSet<string>();
            var result = new R1Recipe(settings, (stage, _, _, _) => stages.Add(stage)).Run(Path.Combine(root, "a"));
            Assert.Contains("rejection", stages);
            Assert.Equal(4 * 3 * 2, result.Evaluation.Count(c => c.Stage == R1Recipe.RejectionStage));
            Assert.Equal(4 * 3 * 2, result.Evaluation.Count(c => c.Stage == R1Recipe.SecondRoundStage));
            var lines = File.ReadAllLines(Path.Combine(result.OutputDirectory, "metrics.jsonl"));
            Assert.Equal(3, lines.Count(l => l.Contains("\"stage\":\"rejection-sft\"")));
            Assert.Equal(settings.GrpoSteps, lines.Count(l => l.Contains("\"stage\":\"grpo-2\"")));
            using (var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(result.OutputDirectory, "recipe.json"))))
            {
                Assert.NotEmpty(summary.RootElement.GetProperty("second_round_vs_grpo").EnumerateArray());
                Assert.True(summary.RootElement.GetProperty("compute").GetProperty("rejection").GetDouble() > 0);
            }
            // The exported model is the second round's: the same run without those stages exports another one.
            var without = new R1Recipe(settings with { RejectionProblems = 0 }).Run(Path.Combine(root, "b"));
            Assert.Equal(without.Evaluation.Where(c => c.Stage == "GRPO"), result.Evaluation.Where(c => c.Stage == "GRPO"));
            Assert.NotEqual(File.ReadAllBytes(Path.Combine(without.OutputDirectory, "model.safetensors")),
                File.ReadAllBytes(Path.Combine(result.OutputDirectory, "model.safetensors")));
            Assert.Throws<ArgumentException>(() => new R1Recipe(settings with { SftCheckpoint = Path.Combine(root, "sft.bin") }).Run(Path.Combine(root, "c")));
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void The_scaled_family_holds_the_bundled_model_and_refuses_sizes_it_cannot_build()
    {
        var bundled = RecipeSettings.BundledModel(512);
        Assert.Equal((128, 3, 4, 64, 48, 384, 96), (bundled.HiddenSize, bundled.NumHiddenLayers, bundled.NumAttentionHeads, bundled.QLoraRank,
            bundled.KvLoraRank, bundled.IntermediateSize, bundled.MoeIntermediateSize));
        var wider = RecipeSettings.ScaledModel(512, 256, 4);
        Assert.Equal((256, 4, 8, 128, 96, 768, 192), (wider.HiddenSize, wider.NumHiddenLayers, wider.NumAttentionHeads, wider.QLoraRank,
            wider.KvLoraRank, wider.IntermediateSize, wider.MoeIntermediateSize));
        Assert.Equal(bundled.NRoutedExperts, wider.NRoutedExperts);
        Assert.Throws<ArgumentOutOfRangeException>(() => RecipeSettings.ScaledModel(512, 100, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => RecipeSettings.ScaledModel(512, 128, 1));
    }

    [Theory]
    [InlineData(new int[0], null)]
    [InlineData(new[] { 1, 4 }, null)]
    [InlineData(null, new[] { 0 })]
    public void Bad_difficulty_lists_are_refused_before_any_work(int[]? sft, int[]? grpo)
    {
        string dir = Path.Combine(Path.GetTempPath(), "sharpseek-r1-bad-" + Guid.NewGuid().ToString("N"));
        var settings = RecipeSettings.ContinuousIntegration(5) with { SftDifficulties = sft, GrpoDifficulties = grpo ?? [1, 2, 3] };
        var error = Assert.Throws<ArgumentException>(() => new R1Recipe(settings).Run(dir));
        Assert.Contains(sft is null ? "GrpoDifficulties" : "SftDifficulties", error.Message);
        Assert.False(Directory.Exists(dir));
    }
}
