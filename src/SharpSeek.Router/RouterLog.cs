using Microsoft.Extensions.Logging;

namespace SharpSeek.Router;

/// <summary>The router's log lines (category <c>SharpSeek.Router</c>), structured fields for a JSON or OpenTelemetry logger.</summary>
internal static partial class RouterLog
{
    public const string Category = "SharpSeek.Router";

    [LoggerMessage(EventId = 201, Level = LogLevel.Information, Message = "{Method} {Path} → {Replica} status={Status} prefix_blocks={Blocks} matched_blocks={Matched} tries={Tries} ms={Ms}")]
    public static partial void Routed(ILogger logger, string method, string path, string replica, int status, int blocks, int matched, int tries, long ms);

    [LoggerMessage(EventId = 202, Level = LogLevel.Warning, Message = "replica {Replica} taken out: {Reason}")]
    public static partial void ReplicaDown(ILogger logger, string replica, string reason);

    [LoggerMessage(EventId = 203, Level = LogLevel.Information, Message = "replica {Replica} is back")]
    public static partial void ReplicaBack(ILogger logger, string replica);

    [LoggerMessage(EventId = 204, Level = LogLevel.Warning, Message = "{Method} {Path}: {Replica} failed before answering ({Error}); retrying elsewhere")]
    public static partial void Retrying(ILogger logger, string method, string path, string replica, string error);

    [LoggerMessage(EventId = 205, Level = LogLevel.Warning, Message = "{Method} {Path}: {Replica} failed mid-response ({Error}); the client's stream is cut")]
    public static partial void CutMidStream(ILogger logger, string method, string path, string replica, string error);
}
