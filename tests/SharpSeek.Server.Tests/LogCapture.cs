using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace SharpSeek.Server.Tests;

/// <summary>An <see cref="ILoggerProvider"/> that keeps every log entry (category, level, message, exception) for a test to read.</summary>
public sealed class LogCapture : ILoggerProvider
{
    public sealed record Entry(string Category, LogLevel Level, EventId Event, string Message, Exception? Exception, IReadOnlyDictionary<string, object?> Fields);

    private readonly ConcurrentQueue<Entry> _entries = new();

    public IReadOnlyList<Entry> Entries => [.. _entries];

    /// <summary>The one-per-request lines (event 1 of SharpSeek.Requests).</summary>
    public IReadOnlyList<Entry> Requests => [.. _entries.Where(e => e.Category == "SharpSeek.Requests" && e.Event.Id == 1)];

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose() { }

    private sealed class Logger(LogCapture owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var fields = new Dictionary<string, object?>();
            if (state is IEnumerable<KeyValuePair<string, object?>> pairs)
                foreach (var (k, v) in pairs) fields[k] = v;
            owner._entries.Enqueue(new Entry(category, logLevel, eventId, formatter(state, exception), exception, fields));
        }
    }
}
