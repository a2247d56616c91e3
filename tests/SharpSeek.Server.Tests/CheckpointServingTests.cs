using System.Text.Json;
using SharpSeek.Inference;
using SharpSeek.Server.Hosting;

namespace SharpSeek.Server.Tests;

/// <summary>
/// <c>sharpseek serve --model PATH</c> through <see cref="ServeHost"/> (what the command runs after parsing its
/// options): real checkpoints answer over HTTP, /models names them, and bad models end with exit code 1 and one
/// error line instead of an exception.
/// </summary>
public sealed class CheckpointServingTests
{
    private static async Task<(int Code, string Out, string Err)> Serve(ModelChoice model, Func<SharpSeekServer, Task>? whileServing = null)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var options = ServerHarness.Options(engine: new EngineOptions { MaxContext = 4096, MaxConcurrentSequences = 2, MaxQueuedRequests = 4 });
        int code = await ServeHost.RunAsync(model, options, output, error, CancellationToken.None, whileServing ?? (_ => Task.CompletedTask));
        return (code, output.ToString(), error.ToString());
    }

    [Theory]
    [InlineData("safetensors")]
    [InlineData("gguf")]
    public async Task Serves_a_checkpoint_given_with_model(string format)
    {
        string root = TestCheckpoints.TempDirectory();
        string path = format == "gguf"
            ? TestCheckpoints.WriteGguf(Path.Combine(root, "tiny-served.gguf"))
            : TestCheckpoints.WriteSafetensors(Path.Combine(root, "tiny-served"));
        bool served = false;
        var (code, output, error) = await Serve(new ModelChoice { ModelPath = path }, async server =>
        {
            using var http = ServerHarness.Http(server);
            using var models = JsonDocument.Parse(await http.GetStringAsync("models"));
            var ids = models.RootElement.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()).ToList();
            Assert.Contains("tiny-served", ids);
            Assert.Contains("deepseek-chat", ids);
            Assert.Contains("deepseek-reasoner", ids); // the tokenizer has <think>/</think>

            foreach (string model in new[] { "deepseek-chat", "tiny-served" })
            {
                var chat = await http.PostAsync("chat/completions", ServerHarness.Json(
                    $$"""{"model":"{{model}}","messages":[{"role":"user","content":"Hello"}],"max_tokens":5,"temperature":0}"""));
                Assert.Equal(200, (int)chat.StatusCode);
                using var body = JsonDocument.Parse(await chat.Content.ReadAsStringAsync());
                Assert.Equal(model, body.RootElement.GetProperty("model").GetString());
                Assert.True(body.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32() >= 1);
            }

            var reasoner = await http.PostAsync("chat/completions", ServerHarness.Json(
                """{"model":"deepseek-reasoner","messages":[{"role":"user","content":"2+2?"}],"max_tokens":5}"""));
            Assert.Equal(200, (int)reasoner.StatusCode);
            using var reasoned = JsonDocument.Parse(await reasoner.Content.ReadAsStringAsync());
            Assert.True(reasoned.RootElement.GetProperty("choices")[0].GetProperty("message").TryGetProperty("reasoning_content", out _));
            served = true;
        });
        Assert.True(served);
        Assert.Equal(ServeHost.Success, code);
        Assert.Equal("", error);
        Assert.Contains("SharpSeek serving tiny-served", output, StringComparison.Ordinal);
        Assert.Contains("context 1024", output, StringComparison.Ordinal);
    }

    public static TheoryData<string, string> BrokenModels => new()
    {
        { "absent", "no model at" },
        { "no-tokenizer", "no tokenizer.json" },
        { "truncated-safetensors", "model.safetensors" },
        { "truncated-gguf", "broken.gguf" },
        { "not-a-model", "not a GGUF file" },
    };

    [Theory]
    [MemberData(nameof(BrokenModels))]
    public async Task A_model_that_cannot_load_is_one_error_line_and_exit_code_1(string kind, string expected)
    {
        string root = TestCheckpoints.TempDirectory();
        string path = Path.Combine(root, "broken");
        switch (kind)
        {
            case "no-tokenizer":
                TestCheckpoints.WriteSafetensors(path, withTokenizer: false);
                break;
            case "truncated-safetensors":
                TestCheckpoints.WriteSafetensors(path);
                TestCheckpoints.Truncate(Path.Combine(path, "model.safetensors"), 0.3);
                break;
            case "truncated-gguf":
                path = TestCheckpoints.WriteGguf(path + ".gguf");
                TestCheckpoints.Truncate(path, 0.3);
                break;
            case "not-a-model":
                path += ".bin";
                File.WriteAllText(path, "not weights");
                break;
        }
        bool started = false;
        var (code, output, error) = await Serve(new ModelChoice { ModelPath = path }, _ =>
        {
            started = true;
            return Task.CompletedTask;
        });
        Assert.False(started);
        Assert.Equal(ServeHost.Failure, code);
        Assert.Equal("", output);
        Assert.StartsWith("error: ", error, StringComparison.Ordinal);
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.Single(error.TrimEnd().Split('\n'));
    }

    [Fact]
    public async Task Without_a_bundled_model_the_random_model_is_served_with_a_notice()
    {
        string empty = TestCheckpoints.TempDirectory();
        var (code, output, _) = await Serve(new ModelChoice { BundledSearchRoots = [empty], RandomSize = RandomModelSize.Tiny, MaxPositions = 512 }, async server =>
        {
            using var http = ServerHarness.Http(server);
            var models = await http.GetStringAsync("models");
            Assert.Contains("random-tiny-seed1", models, StringComparison.Ordinal);
        });
        Assert.Equal(ServeHost.Success, code);
        Assert.StartsWith("no bundled model", output, StringComparison.Ordinal);
    }
}
