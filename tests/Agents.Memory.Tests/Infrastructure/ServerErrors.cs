using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Agents.Memory.Tests.Infrastructure;

/// <summary>
/// What the memory test hosts logged at Error level or above (the last few, across hosts), so that a request that
/// failed with a 500 shows the server's side of it in the test's failure message.
/// </summary>
public sealed class ServerErrors : ILoggerProvider
{
    private const int Kept = 20;
    private static readonly ConcurrentQueue<string> Recent = new();

    /// <summary>The last <paramref name="count"/> errors, newest last, as lines for a failure message (empty when none).</summary>
    public static string Describe(int count = 3)
    {
        var errors = Recent.ToArray();
        return errors.Length == 0 ? string.Empty : "\nlast server errors:\n" + string.Join("\n", errors.TakeLast(count));
    }

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            var text = $"{DateTime.UtcNow:HH:mm:ss.fff} {category}: {formatter(state, exception)} {exception}";
            Recent.Enqueue(text.Length > 3000 ? text[..3000] : text);
            while (Recent.Count > Kept && Recent.TryDequeue(out _))
            {
            }
        }
    }
}
