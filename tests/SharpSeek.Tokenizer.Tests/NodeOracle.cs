using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace SharpSeek.Tokenizer.Tests;

/// <summary>
/// Runs tests/oracles/tokenizer/oracle.js once for a whole batch of requests (JSON lines in, JSON lines out), so
/// thousands of comparisons cost one node start-up.
/// </summary>
internal static class NodeOracle
{
    /// <summary>Sends <paramref name="requests"/> (one JSON object each) and returns the responses in order.</summary>
    public static IReadOnlyList<JsonElement> Run(IReadOnlyList<string> requests, params string[] arguments)
    {
        string dir = RepositoryPaths.EnsureOracleInstalled();
        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = dir,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardInputEncoding = new UTF8Encoding(false),
            StandardOutputEncoding = Encoding.UTF8,
        };
        start.ArgumentList.Add("oracle.js");
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);

        using Process node = Process.Start(start) ?? throw new InvalidOperationException("could not start node");
        // Write on another task: node answers while we are still sending, and both pipes have finite buffers.
        Task writer = Task.Run(() =>
        {
            foreach (string request in requests)
                node.StandardInput.Write(request + "\n");
            node.StandardInput.Close();
        });
        Task<string> stderr = node.StandardError.ReadToEndAsync();
        var responses = new List<JsonElement>(requests.Count);
        string? line;
        while ((line = node.StandardOutput.ReadLine()) is not null)
            responses.Add(JsonDocument.Parse(line).RootElement.Clone());
        writer.Wait();
        if (!node.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            node.Kill(entireProcessTree: true);
            throw new TimeoutException("the node oracle did not exit");
        }
        if (node.ExitCode != 0 || responses.Count != requests.Count)
            throw new InvalidOperationException(
                $"node oracle exited with {node.ExitCode} after {responses.Count} of {requests.Count} responses:\n{stderr.Result}");
        return responses;
    }

    /// <summary>The response's field, or a failure that quotes the oracle's error.</summary>
    public static JsonElement Field(JsonElement response, string name)
    {
        if (response.TryGetProperty("error", out JsonElement error))
            throw new InvalidOperationException($"oracle error: {error.GetString()}");
        return response.GetProperty(name);
    }

    public static int[] Ids(JsonElement response) =>
        Field(response, "ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();

    /// <summary>
    /// A JSON string literal that is pure ASCII: every other UTF-16 unit is written as \uXXXX, so lone surrogates
    /// reach JavaScript intact (System.Text.Json refuses to write them).
    /// </summary>
    public static string Quote(string text)
    {
        var sb = new StringBuilder(text.Length + 2);
        sb.Append('"');
        foreach (char c in text)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                default:
                    if (c < 0x20 || c > 0x7E)
                        sb.Append("\\u").Append(((int)c).ToString("x4"));
                    else
                        sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }

    public static string EncodeRequest(string text) => "{\"op\":\"encode\",\"text\":" + Quote(text) + "}";

    public static string DecodeRequest(IEnumerable<int> ids, bool skipSpecialTokens = false) =>
        "{\"op\":\"decode\",\"skip_special_tokens\":" + (skipSpecialTokens ? "true" : "false") + ",\"ids\":[" + string.Join(",", ids) + "]}";
}
