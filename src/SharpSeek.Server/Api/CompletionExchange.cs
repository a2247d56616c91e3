using System.Buffers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using SharpSeek.Inference;
using SharpSeek.Server.Hosting;

namespace SharpSeek.Server.Api;

/// <summary>
/// One /chat/completions or /beta/completions request in the OpenAI/DeepSeek wire format: parsing, the prompt, keep-alive
/// lines while queued, the response (JSON or SSE) and error bodies. Admission, billing (one ledger row for every request
/// that reached the engine), cancellation, logging and metrics are <see cref="RequestLifecycle"/>'s.
/// </summary>
internal sealed class CompletionExchange : IDisposable
{
    private static readonly byte[] s_blankLine = "\n"u8.ToArray();
    private static readonly byte[] s_sseKeepAlive = ": keep-alive\n\n"u8.ToArray();
    private static readonly byte[] s_sseData = "data: "u8.ToArray();
    private static readonly byte[] s_sseEnd = "\n\n"u8.ToArray();
    private static readonly byte[] s_sseDone = "data: [DONE]\n\n"u8.ToArray();

    private readonly ServerState _state;
    private readonly HttpContext _http;
    private readonly bool _fim;
    private readonly ArrayBufferWriter<byte> _buffer = new(1024);
    private readonly Utf8JsonWriter _json;
    private RequestLifecycle _life = null!;

    private CompletionExchange(ServerState state, HttpContext http, bool fim)
    {
        _state = state;
        _http = http;
        _fim = fim;
        _json = new Utf8JsonWriter(_buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }

    public static Task HandleChatAsync(HttpContext http, ServerState state) => HandleAsync(http, state, fim: false);
    public static Task HandleFimAsync(HttpContext http, ServerState state) => HandleAsync(http, state, fim: true);

    private static async Task HandleAsync(HttpContext http, ServerState state, bool fim)
    {
        using var exchange = new CompletionExchange(state, http, fim);
        await exchange.RunAsync();
    }

    public void Dispose() => _json.Dispose();

    private string Endpoint => _fim ? "/beta/completions" : "/chat/completions";

    /// <summary>Parses and formats the request, then hands admission, billing, errors and logging to <see cref="RequestLifecycle"/>.</summary>
    private Task RunAsync()
    {
        string id = (_fim ? "cmpl-" : "chatcmpl-") + Guid.NewGuid().ToString("N");
        _life = new RequestLifecycle(_state, _http, Endpoint, id) { WriteError = WriteErrorAsync };
        return _life.RunAsync(async () =>
        {
            var account = await _state.AuthenticateAsync(_http);
            _life.Account = account;
            var body = await ChatGeneration.ReadBodyAsync(_http);
            var request = ChatCompletionRequest.Parse(body, _fim, _state.Served.Name, beta: _http.Request.Path.StartsWithSegments("/beta"));
            if (account.TotalNano <= 0) throw ApiException.InsufficientBalance();

            var (generation, price) = ChatGeneration.Prepare(_state, request, _fim);
            _life.KeepAlive = () => SendKeepAliveAsync(request.Stream);
            var stream = await _life.AdmitAsync(account, generation, price, request.Model, request.Stream, maxTokensGiven: request.MaxTokens is not null);
            return await RunAdmittedAsync(id, request, stream);
        });
    }

    /// <summary>Waits for a slot (keep-alives meanwhile), then writes the answer; billing and the log line are the lifecycle's.</summary>
    private async Task<int> RunAdmittedAsync(string id, ChatCompletionRequest request, GenerationStream stream)
    {
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        await _life.WaitWithKeepAliveAsync(stream.Started, _http.RequestAborted);
        if (!await stream.Started)
        {
            var ended = await _life.SettleAsync();
            return ended.FinishReason == FinishReason.Expired ? await WriteErrorAsync(ApiException.Busy()) : 499;
        }
        return request.Stream ? await StreamAsync(id, created, request, stream) : await CompleteAsync(id, created, request, stream);
    }

    private async Task SendKeepAliveAsync(bool streaming)
    {
        ChatGeneration.StartResponse(_http.Response, streaming);
        await _http.Response.Body.WriteAsync(streaming ? s_sseKeepAlive : s_blankLine, _http.RequestAborted);
        await _http.Response.Body.FlushAsync(_http.RequestAborted);
    }

    private async Task<int> WriteErrorAsync(ApiException e)
    {
        if (!_http.Response.HasStarted)
        {
            await e.WriteAsync(_http.Response);
            return e.Status;
        }
        // Headers are gone (keep-alive lines were sent): the error body follows them.
        var body = ApiException.Body(e.Status, e.Message, e.Type, e.Code, e.Param);
        if (_http.Response.ContentType?.StartsWith("text/event-stream", StringComparison.Ordinal) == true)
        {
            await _http.Response.Body.WriteAsync(s_sseData);
            await _http.Response.Body.WriteAsync(body);
            await _http.Response.Body.WriteAsync(s_sseEnd);
        }
        else await _http.Response.Body.WriteAsync(body);
        return e.Status;
    }

    private async Task<int> CompleteAsync(string id, long created, ChatCompletionRequest request, GenerationStream stream)
    {
        List<GenerationDelta>? logprobs = request.Logprobs ? [] : null;
        await foreach (var d in stream.Deltas.ReadAllAsync(_http.RequestAborted))
            if (logprobs is not null && d.Chosen is not null && d.Channel == OutputChannel.Content) logprobs.Add(d);
        var result = await _life.SettleAsync(); // the ledger row is written before the last bytes go out
        if (result.FinishReason == FinishReason.Cancelled) return 499;
        if (result.FinishReason == FinishReason.Error)
            return await WriteErrorAsync(new ApiException(500, "Inference failed: " + result.Error, "server_error", "inference_error"));
        ChatGeneration.StartResponse(_http.Response, streaming: false);
        _buffer.Clear();
        _json.Reset();
        if (_fim)
        {
            string text = request.Echo ? request.Prompt + result.Content : result.Content;
            ResponseJson.WriteTextCompletion(_json, id, created, request.Model, _state.Fingerprint, text, ResponseJson.FinishReasonText(result.FinishReason), result.Usage, logprobs, chunk: false);
        }
        else ResponseJson.WriteChatCompletion(_json, id, created, request.Model, _state.Fingerprint, result, request.Mode == ChatMode.Reasoner, logprobs);
        _json.Flush();
        await _http.Response.Body.WriteAsync(_buffer.WrittenMemory, _http.RequestAborted);
        return 200;
    }

    private async Task<int> StreamAsync(string id, long created, ChatCompletionRequest request, GenerationStream stream)
    {
        ChatGeneration.StartResponse(_http.Response, streaming: true);
        var body = _http.Response.Body;
        var ct = _http.RequestAborted;
        bool reasoner = request.Mode == ChatMode.Reasoner;
        bool first = true;
        if (!_fim)
        {
            // The role comes first, with an empty content (DeepSeek sends reasoning_content "" for the reasoner).
            WriteChunk(request, id, created, first: true, reasoner ? OutputChannel.Reasoning : OutputChannel.Content, "", null, null, usageOnly: false, null);
            first = false;
            await FlushChunksAsync(body, ct);
        }
        var reader = stream.Deltas;
        while (await reader.WaitToReadAsync(ct))
        {
            while (reader.TryRead(out var d))
            {
                if (d.Text.Length == 0 && d.Chosen is null && d.ToolCall is null) continue;
                if (_fim) WriteFimChunk(request, id, created, d.Text, null, null, d.Chosen is null ? null : [d]);
                else WriteChunk(request, id, created, first, d.Channel, d.Text, null, null, usageOnly: false,
                    d.Chosen is not null && d.Channel == OutputChannel.Content && request.Logprobs ? d : null, d.ToolCall);
                first = false;
            }
            await FlushChunksAsync(body, ct);
        }
        var result = await _life.SettleAsync(); // the ledger row is written before the last bytes go out
        if (result.FinishReason == FinishReason.Cancelled) return 499;
        if (result.FinishReason == FinishReason.Error)
        {
            await WriteErrorAsync(new ApiException(500, "Inference failed: " + result.Error, "server_error", "inference_error"));
            return 500;
        }
        string finish = ResponseJson.FinishReasonText(result);
        if (_fim)
        {
            WriteFimChunk(request, id, created, "", finish, null, null);
            if (request.IncludeUsage) WriteFimChunk(request, id, created, "", null, result.Usage, null);
        }
        else
        {
            WriteChunk(request, id, created, first, OutputChannel.Content, "", finish, null, usageOnly: false, null);
            if (request.IncludeUsage) WriteChunk(request, id, created, false, null, null, null, result.Usage, usageOnly: true, null);
        }
        _buffer.Write(s_sseDone);
        await FlushChunksAsync(body, ct);
        return 200;
    }

    private void WriteChunk(ChatCompletionRequest request, string id, long created, bool first, OutputChannel? channel, string? text,
        string? finish, GenerationUsage? usage, bool usageOnly, GenerationDelta? logprobs, Inference.Tools.ToolCallDelta? toolCall = null)
    {
        _buffer.Write(s_sseData);
        _json.Reset(_buffer);
        ResponseJson.WriteChatChunk(_json, id, created, request.Model, _state.Fingerprint, first, channel, text, finish, usage, usageOnly, logprobs, toolCall);
        _json.Flush();
        _buffer.Write(s_sseEnd);
    }

    private void WriteFimChunk(ChatCompletionRequest request, string id, long created, string text, string? finish, GenerationUsage? usage, IReadOnlyList<GenerationDelta>? logprobs)
    {
        _buffer.Write(s_sseData);
        _json.Reset(_buffer);
        ResponseJson.WriteTextCompletion(_json, id, created, request.Model, _state.Fingerprint, text, finish, usage, logprobs, chunk: true);
        _json.Flush();
        _buffer.Write(s_sseEnd);
    }

    private async Task FlushChunksAsync(Stream body, CancellationToken ct)
    {
        if (_buffer.WrittenCount == 0) return;
        await body.WriteAsync(_buffer.WrittenMemory, ct);
        await body.FlushAsync(ct);
        _buffer.Clear();
    }
}
