using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using SharpSeek.Inference;
using SharpSeek.Server.Hosting;

namespace SharpSeek.Server.Api.Anthropic;

/// <summary>
/// One POST /anthropic/v1/messages request in Anthropic's Messages format, over the same engine, ledger, cache
/// partitions and limits as the OpenAI-format endpoint: the body is translated by <see cref="AnthropicRequest"/>, the
/// prompt and engine request are <see cref="ChatGeneration"/>'s, and admission, billing, logs and errors are
/// <see cref="RequestLifecycle"/>'s. What is this format's own: <c>x-api-key</c> auth, the message and event shapes,
/// <c>ping</c> events (after <c>message_start</c>) while a stream waits for a slot, and Anthropic's error body and
/// status codes (a full server is 529 <c>overloaded_error</c>).
/// </summary>
internal sealed class AnthropicExchange : IDisposable
{
    public const string Endpoint = "/anthropic/v1/messages";

    private readonly ServerState _state;
    private readonly HttpContext _http;
    private readonly ArrayBufferWriter<byte> _buffer = new(1024);
    private readonly AnthropicEventWriter _events;
    private RequestLifecycle _life = null!;
    private string _id = "";
    private string _model = "";
    private bool _streaming;
    private bool _messageStarted;
    private int _promptTokens;

    private AnthropicExchange(ServerState state, HttpContext http)
    {
        _state = state;
        _http = http;
        _events = new AnthropicEventWriter(_buffer);
    }

    public static async Task HandleAsync(HttpContext http, ServerState state)
    {
        using var exchange = new AnthropicExchange(state, http);
        await exchange.RunAsync();
    }

    public void Dispose() => _events.Dispose();

    private Task RunAsync()
    {
        _id = "msg_" + Guid.NewGuid().ToString("N");
        _life = new RequestLifecycle(_state, _http, Endpoint, _id) { WriteError = WriteErrorAsync };
        return _life.RunAsync(async () =>
        {
            var account = await _state.AuthenticateAsync(_http, apiKeyHeader: true);
            _life.Account = account;
            var body = await ChatGeneration.ReadBodyAsync(_http);
            var request = AnthropicRequest.Parse(body, _state.Served.Name);
            if (account.TotalNano <= 0) throw ApiException.InsufficientBalance();
            // max_tokens is required in this format and agents send their model's ceiling (tens of thousands): it is
            // an upper bound here, lowered to what the context window leaves, not a reason to refuse.
            var chat = request.Chat with { MaxTokens = Math.Min(request.Chat.MaxTokens ?? int.MaxValue, _state.Engine.Options.MaxContext - 1) };
            var (generation, price) = ChatGeneration.Prepare(_state, chat, fim: false);
            _model = request.Model;
            _streaming = chat.Stream;
            _promptTokens = generation.PromptTokens.Length;
            _life.KeepAlive = SendKeepAliveAsync;
            var stream = await _life.AdmitAsync(account, generation, price, chat.Model, chat.Stream, maxTokensGiven: true);

            await _life.WaitWithKeepAliveAsync(stream.Started, _http.RequestAborted);
            if (!await stream.Started)
            {
                var ended = await _life.SettleAsync();
                return ended.FinishReason == FinishReason.Expired ? await WriteErrorAsync(ApiException.Busy()) : 499;
            }
            return _streaming ? await StreamAsync(stream) : await CompleteAsync(stream);
        });
    }

    /// <summary>The stream's first event; a stream that waits for a slot sends it early so pings can follow.</summary>
    private void EnsureMessageStart()
    {
        if (_messageStarted) return;
        _events.MessageStart(_id, _model, _promptTokens);
        _messageStarted = true;
    }

    private async Task SendKeepAliveAsync()
    {
        ChatGeneration.StartResponse(_http.Response, _streaming);
        if (_streaming)
        {
            EnsureMessageStart();
            _events.Ping();
        }
        else _buffer.Write("\n"u8); // leading whitespace, which JSON parsers skip
        await FlushAsync();
    }

    private async Task<int> CompleteAsync(GenerationStream stream)
    {
        await foreach (var _ in stream.Deltas.ReadAllAsync(_http.RequestAborted)) { }
        var result = await _life.SettleAsync(); // the ledger row is written before the last bytes go out
        if (result.FinishReason == FinishReason.Cancelled) return 499;
        if (result.FinishReason == FinishReason.Error)
            return await WriteErrorAsync(new ApiException(500, "Inference failed: " + result.Error, "server_error", "inference_error"));
        ChatGeneration.StartResponse(_http.Response, _streaming);
        using (var json = new Utf8JsonWriter(_buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            AnthropicResponse.WriteMessage(json, _id, _model, result);
        await FlushAsync();
        return 200;
    }

    private async Task<int> StreamAsync(GenerationStream stream)
    {
        ChatGeneration.StartResponse(_http.Response, _streaming);
        EnsureMessageStart();
        await FlushAsync();
        var reader = stream.Deltas;
        while (await reader.WaitToReadAsync(_http.RequestAborted))
        {
            while (reader.TryRead(out var d))
            {
                if (d.ToolCall is { } call)
                {
                    if (call.Id is not null) _events.ToolUseStart(AnthropicResponse.ToolUseId(call.Id), call.Name ?? "");
                    _events.InputJson(call.ArgumentsFragment);
                }
                else if (d.Channel is OutputChannel.Content or OutputChannel.Reasoning) _events.Text(d.Channel, d.Text);
            }
            await FlushAsync();
        }
        var result = await _life.SettleAsync(); // the ledger row is written before the last bytes go out
        if (result.FinishReason == FinishReason.Cancelled) return 499;
        if (result.FinishReason == FinishReason.Error)
            return await WriteErrorAsync(new ApiException(500, "Inference failed: " + result.Error, "server_error", "inference_error"));
        _events.Finish(result);
        await FlushAsync();
        return 200;
    }

    /// <summary>
    /// Anthropic's error body with its status when nothing was sent yet; after the headers went out, an <c>error</c>
    /// event (streaming) or the body after the keep-alive whitespace. Returns the status the client sees.
    /// </summary>
    private async Task<int> WriteErrorAsync(ApiException e)
    {
        var (status, _) = AnthropicResponse.ErrorOf(e);
        if (!_http.Response.HasStarted)
        {
            _http.Response.StatusCode = status;
            _http.Response.ContentType = "application/json";
            if (status is 429 or 529) _http.Response.Headers.RetryAfter = "1";
            WriteErrorBody(e);
        }
        else if (_http.Response.ContentType?.StartsWith("text/event-stream", StringComparison.Ordinal) == true) _events.Error(e);
        else WriteErrorBody(e);
        await FlushAsync();
        return status;
    }

    private void WriteErrorBody(ApiException e)
    {
        using var json = new Utf8JsonWriter(_buffer);
        AnthropicResponse.WriteError(json, e);
    }

    private async Task FlushAsync()
    {
        if (_buffer.WrittenCount == 0) return;
        await _http.Response.Body.WriteAsync(_buffer.WrittenMemory, _http.RequestAborted);
        await _http.Response.Body.FlushAsync(_http.RequestAborted);
        _buffer.Clear();
    }
}
