using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SharpSeek.Server.Tests;

/// <summary>
/// A client of Anthropic's Messages wire format written from its published description, independent of the server's
/// code: it posts with <c>x-api-key</c> and <c>anthropic-version</c>, and for a stream it parses the server-sent events,
/// checks their grammar (message_start first, blocks opened, filled and closed by index in order, message_delta then
/// message_stop last) and accumulates them into the same message object a non-streaming call returns.
/// </summary>
internal sealed class MessagesWireClient(HttpClient http, string? apiKey)
{
    public const string Path = "anthropic/v1/messages";

    public sealed record Reply(HttpStatusCode Status, JsonObject Body, IReadOnlyList<string> Events);

    private HttpRequestMessage Request(string body)
    {
        var r = new HttpRequestMessage(HttpMethod.Post, Path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (apiKey is not null) r.Headers.Add("x-api-key", apiKey);
        r.Headers.Add("anthropic-version", "2023-06-01");
        return r;
    }

    /// <summary>A non-streaming call: the status and the JSON body (a message or an error).</summary>
    public async Task<Reply> CreateAsync(string body)
    {
        using var response = await http.SendAsync(Request(body));
        string text = await response.Content.ReadAsStringAsync();
        return new Reply(response.StatusCode, JsonNode.Parse(text)!.AsObject(), []);
    }

    /// <summary>A streaming call, accumulated into a message (or the error body/event), with the event names in order.</summary>
    public async Task<Reply> StreamAsync(string body)
    {
        using var response = await http.SendAsync(Request(body), HttpCompletionOption.ResponseHeadersRead);
        if (response.StatusCode != HttpStatusCode.OK || response.Content.Headers.ContentType?.MediaType != "text/event-stream")
            return new Reply(response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject(), []);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        return Accumulate(response.StatusCode, await ReadEventsAsync(reader));
    }

    /// <summary>Reads every <c>event:</c>/<c>data:</c> pair until the stream ends.</summary>
    public static async Task<List<(string Name, JsonObject Data)>> ReadEventsAsync(StreamReader reader)
    {
        var events = new List<(string, JsonObject)>();
        string? name = null;
        string? line;
        while ((line = await reader.ReadLineAsync()) is not null)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal)) name = line["event: ".Length..];
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                var data = JsonNode.Parse(line["data: ".Length..])!.AsObject();
                Assert.NotNull(name);
                Assert.Equal(name, (string?)data["type"]); // the event line and the data's type agree
                events.Add((name!, data));
                name = null;
            }
            else Assert.True(line.Length == 0, "unexpected line in the event stream: " + line);
        }
        return events;
    }

    private static Reply Accumulate(HttpStatusCode status, List<(string Name, JsonObject Data)> events)
    {
        var names = events.Select(e => e.Name).ToList();
        var error = events.FirstOrDefault(e => e.Name == "error");
        if (error.Data is not null) return new Reply(status, error.Data, names);

        var meaningful = events.Where(e => e.Name != "ping").ToList();
        Assert.Equal("message_start", meaningful[0].Name);
        Assert.Equal("message_stop", meaningful[^1].Name);
        Assert.Equal("message_delta", meaningful[^2].Name);
        var message = meaningful[0].Data["message"]!.DeepClone().AsObject();
        var content = message["content"]!.AsArray();
        Assert.Empty(content);
        var partialJson = new StringBuilder();
        int open = -1;
        foreach (var (name, data) in meaningful.Skip(1).SkipLast(2))
        {
            int index = (int)data["index"]!;
            switch (name)
            {
                case "content_block_start":
                    Assert.Equal(-1, open);
                    Assert.Equal(content.Count, index); // blocks are numbered in order from 0
                    content.Add(data["content_block"]!.DeepClone());
                    open = index;
                    partialJson.Clear();
                    break;
                case "content_block_delta":
                    Assert.Equal(open, index);
                    var block = content[index]!.AsObject();
                    var delta = data["delta"]!;
                    switch ((string?)delta["type"])
                    {
                        case "text_delta": Assert.Equal("text", (string?)block["type"]); block["text"] = (string?)block["text"] + (string?)delta["text"]; break;
                        case "thinking_delta": Assert.Equal("thinking", (string?)block["type"]); block["thinking"] = (string?)block["thinking"] + (string?)delta["thinking"]; break;
                        case "signature_delta": Assert.Equal("thinking", (string?)block["type"]); block["signature"] = (string?)delta["signature"]; break;
                        case "input_json_delta": Assert.Equal("tool_use", (string?)block["type"]); partialJson.Append((string?)delta["partial_json"]); break;
                        default: Assert.Fail("unknown delta type " + delta.ToJsonString()); break;
                    }
                    break;
                case "content_block_stop":
                    Assert.Equal(open, index);
                    if ((string?)content[index]!["type"] == "tool_use" && partialJson.Length > 0)
                        content[index]!["input"] = JsonNode.Parse(partialJson.ToString());
                    open = -1;
                    break;
                default: Assert.Fail("unexpected event " + name); break;
            }
        }
        Assert.Equal(-1, open); // every block closed before message_delta
        var final = meaningful[^2].Data;
        message["stop_reason"] = final["delta"]!["stop_reason"]!.DeepClone();
        message["stop_sequence"] = final["delta"]!["stop_sequence"]?.DeepClone();
        message["usage"] = final["usage"]!.DeepClone();
        return new Reply(status, message, names);
    }
}
