using Microsoft.Extensions.Logging;

namespace SharpSeek.Server.Monitoring;

/// <summary>
/// The server's log lines (category <c>SharpSeek.Requests</c>). One <see cref="Request"/> line ends every API request,
/// whatever its outcome; the named fields are structured (a JSON or OpenTelemetry logger keeps them as fields).
/// </summary>
internal static partial class RequestLog
{
    public const string Category = "SharpSeek.Requests";

    [LoggerMessage(EventId = 1, Level = LogLevel.Information,
        Message = "request {RequestId} {Method} {Endpoint} account={AccountId} status={Status} outcome={Outcome} prompt={PromptTokens} cached={CachedTokens} completion={CompletionTokens} cache={Cache} cost_nano={CostNano} queue_ms={QueueMs} ttft_ms={TtftMs} total_ms={TotalMs}")]
    public static partial void Request(ILogger logger, string requestId, string method, string endpoint, long? accountId, int status, string outcome,
        int promptTokens, int cachedTokens, int completionTokens, string cache, long costNano, long queueMs, long ttftMs, long totalMs);

    [LoggerMessage(EventId = 2, Level = LogLevel.Error, Message = "request {RequestId} {Method} {Endpoint} failed with an unexpected error; answered 500")]
    public static partial void Unexpected(ILogger logger, Exception exception, string requestId, string method, string endpoint);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "request {RequestId}: settled cost {CostNano} exceeds its reservation {ReservedNano}; charged the reservation")]
    public static partial void CostOverReservation(ILogger logger, string requestId, long costNano, long reservedNano);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "shutting down: {InFlight} requests in flight, waiting up to {TimeoutSeconds} s before cancelling them")]
    public static partial void Draining(ILogger logger, int inFlight, double timeoutSeconds);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "shutdown: {InFlight} requests still in flight after the drain timeout; cancelling them")]
    public static partial void CancellingInFlight(ILogger logger, int inFlight);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "shutdown: the context cache's disk writes did not finish within {Seconds} s; the rest are dropped (blocks are recomputed when needed)")]
    public static partial void CacheFlushTimedOut(ILogger logger, double seconds);

    [LoggerMessage(EventId = 8, Level = LogLevel.Error, Message = "request {RequestId}: its reservation of {ReservedNano} nano-CNY could not be released; it holds until the next start")]
    public static partial void ReleaseFailed(ILogger logger, Exception exception, string requestId, long reservedNano);

    [LoggerMessage(EventId = 7, Level = LogLevel.Information, Message = "start: dropped {Count} balance reservations left by an earlier run of {Instance}")]
    public static partial void DroppedReservations(ILogger logger, int count, string instance);
}
