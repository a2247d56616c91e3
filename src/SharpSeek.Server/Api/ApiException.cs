using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace SharpSeek.Server.Api;

/// <summary>An API failure with its HTTP status and the error body's fields: <c>{"error": {message, type, param, code}}</c>.</summary>
public sealed class ApiException(int status, string message, string type, string? code = null, string? param = null) : Exception(message)
{
    public int Status { get; } = status;
    public string Type { get; } = type;
    public string? Code { get; } = code;
    public string? Param { get; } = param;

    public static ApiException BadRequest(string message, string? param = null, string code = "invalid_request") => new(400, message, "invalid_request_error", code, param);
    public static ApiException InvalidParameter(string message, string param) => new(422, message, "invalid_request_error", "invalid_parameter", param);
    public static ApiException Unauthorized(string message) => new(401, message, "authentication_error", "invalid_api_key");
    public static ApiException InsufficientBalance() => new(402, "Insufficient Balance", "insufficient_balance_error", "insufficient_balance");
    public static ApiException RateLimited() => new(429, "Rate limit reached for requests with this API key; slow down.", "rate_limit_error", "rate_limit_exceeded");
    public static ApiException TooManyConcurrent(int running, int queued) =>
        new(429, $"Too many concurrent requests for this API key (at most {running} running and {queued} waiting); retry when one finishes.", "rate_limit_error", "too_many_concurrent_requests");
    public static ApiException ShuttingDown() => new(503, "The server is shutting down; retry on another instance or later.", "service_unavailable_error", "shutting_down");
    public static ApiException Busy() => new(503, "Server busy: every inference slot and queue place is taken; retry later.", "service_unavailable_error", "server_busy");

    public static void WriteBody(Utf8JsonWriter w, int status, string message, string type, string? code, string? param)
    {
        w.WriteStartObject();
        w.WriteStartObject("error");
        w.WriteString("message", message);
        w.WriteString("type", type);
        if (param is null) w.WriteNull("param"); else w.WriteString("param", param);
        if (code is null) w.WriteNull("code"); else w.WriteString("code", code);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    public static byte[] Body(int status, string message, string type, string? code, string? param)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms)) WriteBody(w, status, message, type, code, param);
        return ms.ToArray();
    }

    public async Task WriteAsync(HttpResponse response)
    {
        response.StatusCode = Status;
        response.ContentType = "application/json";
        if (Status == 503 || Status == 429) response.Headers.RetryAfter = "1";
        await response.Body.WriteAsync(Body(Status, Message, Type, Code, Param));
    }
}
