using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace SharpSeek.Server.Accounts;

/// <summary>
/// Settles ledger rows so that none is lost silently: a failed write is retried (bounded, with backoff, each failure
/// logged); one that still fails is logged as an error and appended to a pending file (fsync'd JSON lines), which the
/// next start writes to the store before serving. Settling is idempotent on the request id, so a row that did commit
/// before its error was seen is never charged twice.
/// </summary>
public sealed partial class LedgerWriter(AccountStore store, string pendingPath, ILogger logger)
{
    /// <summary>Delays before the 2nd, 3rd … tries.</summary>
    public IReadOnlyList<TimeSpan> Backoff { get; init; } =
        [TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2)];

    private static readonly object s_fileGate = new();
    private long _pending;

    /// <summary>Rows handed to the pending file since start (each also logged as an error).</summary>
    public long PendingRows => Interlocked.Read(ref _pending);

    /// <summary>Writes the row (retrying); returns true when it is in the store, false when it went to the pending file.</summary>
    public async Task<bool> SettleAsync(UsageRecord row)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                await store.SettleAsync(row).ConfigureAwait(false);
                if (attempt > 0) WrittenOnRetry(logger, row.RequestId, attempt + 1);
                return true;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                if (attempt >= Backoff.Count)
                {
                    KeptPending(logger, e, row.RequestId, row.AccountId, row.CostNano, attempt + 1, pendingPath);
                    AppendPending(row);
                    return false;
                }
                Retrying(logger, e, row.RequestId, attempt + 1);
                await Task.Delay(Backoff[attempt]).ConfigureAwait(false);
            }
        }
    }

    private void AppendPending(UsageRecord row)
    {
        Interlocked.Increment(ref _pending);
        try
        {
            byte[] line = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(row) + "\n");
            lock (s_fileGate)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(pendingPath))!);
                using var f = new FileStream(pendingPath, FileMode.Append, FileAccess.Write, FileShare.Read);
                f.Write(line);
                f.Flush(flushToDisk: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Nowhere left to keep it: the error line carries every field needed to enter it by hand.
            string whole = JsonSerializer.Serialize(row);
            Lost(logger, e, whole);
        }
    }

    /// <summary>Writes the rows a previous run could not (at start, before serving); the file goes once all are in. Returns how many.</summary>
    public async Task<int> ReplayPendingAsync()
    {
        if (!File.Exists(pendingPath)) return 0;
        var lines = await File.ReadAllLinesAsync(pendingPath).ConfigureAwait(false);
        int written = 0;
        foreach (string line in lines)
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            UsageRecord? row;
            try { row = JsonSerializer.Deserialize<UsageRecord>(line); }
            catch (JsonException e)
            {
                // A line torn by a crash mid-append: its request was also logged as an error when it failed.
                UnreadablePending(logger, e, line);
                continue;
            }
            if (row is null) continue;
            await store.SettleAsync(row).ConfigureAwait(false); // idempotent: a replay after a crash here is harmless
            written++;
        }
        File.Delete(pendingPath);
        Replayed(logger, written, pendingPath);
        return written;
    }

    // The ledger's log lines (source-generated: no boxing or parsing on the way to the logger).
    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "ledger row {RequestId} written on try {Attempt}")]
    private static partial void WrittenOnRetry(ILogger logger, string requestId, int attempt);

    [LoggerMessage(EventId = 102, Level = LogLevel.Error, Message = "ledger row {RequestId} (account {AccountId}, cost {CostNano} nano-CNY) not written after {Tries} tries; kept in {PendingPath} for the next start")]
    private static partial void KeptPending(ILogger logger, Exception e, string requestId, long accountId, long costNano, int tries, string pendingPath);

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "ledger row {RequestId}: write failed (try {Attempt}), retrying")]
    private static partial void Retrying(ILogger logger, Exception e, string requestId, int attempt);

    [LoggerMessage(EventId = 104, Level = LogLevel.Critical, Message = "ledger row LOST from the store and the pending file: {Row}")]
    private static partial void Lost(ILogger logger, Exception e, string row);

    [LoggerMessage(EventId = 105, Level = LogLevel.Error, Message = "pending ledger line unreadable, skipped: {Line}")]
    private static partial void UnreadablePending(ILogger logger, Exception e, string line);

    [LoggerMessage(EventId = 106, Level = LogLevel.Information, Message = "{Rows} pending ledger rows written from {PendingPath}")]
    private static partial void Replayed(ILogger logger, int rows, string pendingPath);
}
