using System.Collections.Concurrent;
using Npgsql;

namespace Agents.Executor.Api;

/// <summary>
/// Wakes event streams when their task changes: one connection per executor process listens on PostgreSQL channel
/// <c>agents_task_changed</c> (raised by a trigger on each new entry of <c>task_events</c>, delivered at commit, so from every replica) and
/// signals the streams waiting for that task. When the connection is down, streams fall back to polling at
/// <c>Executor:EventStreamPollInterval</c>; nothing is missed, only later.
/// </summary>
internal sealed partial class TaskChangeFeed(NpgsqlDataSource dataSource, ILogger<TaskChangeFeed> logger) : BackgroundService
{
    public const string Channel = "agents_task_changed";

    // No task has the empty id: waiters under it are woken by every task's change.
    private static readonly Guid AnyTask = Guid.Empty;

    private readonly ConcurrentDictionary<Guid, ConcurrentDictionary<Waiter, byte>> _waiters = new();

    /// <summary>True while notifications arrive; streams may then wait longer between reads.</summary>
    public bool Listening { get; private set; }

    /// <summary>A signal that is set when <paramref name="taskId"/> changes after this call; dispose it when done.</summary>
    public Waiter Watch(Guid taskId)
    {
        var waiter = new Waiter(this, taskId);
        _waiters.GetOrAdd(taskId, _ => new ConcurrentDictionary<Waiter, byte>())[waiter] = 0;
        return waiter;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var retry = TimeSpan.FromMilliseconds(250);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(stoppingToken);
                connection.Notification += (_, e) =>
                {
                    if (Guid.TryParse(e.Payload, out var id))
                    {
                        Signal(id);
                        Signal(AnyTask);
                    }
                };
                await using (var listen = new NpgsqlCommand($"LISTEN {Channel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                }

                Listening = true;
                retry = TimeSpan.FromMilliseconds(250);
                while (!stoppingToken.IsCancellationRequested)
                {
                    await connection.WaitAsync(stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                Listening = false;
                LogListenFailed(ex, retry.TotalSeconds);
                try
                {
                    await Task.Delay(retry, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                retry = retry * 2 > TimeSpan.FromSeconds(10) ? TimeSpan.FromSeconds(10) : retry * 2;
            }
            finally
            {
                Listening = false;
            }
        }
    }

    /// <summary>A signal that is set when any task changes after this call (task lists waiting for a change).</summary>
    public Waiter WatchAny() => Watch(AnyTask);

    /// <summary>True while a task list request is held waiting for a change (what a test waits for before changing the list).</summary>
    internal bool ListWaiting => _waiters.TryGetValue(AnyTask, out var waiting) && waiting.Keys.Any(w => w.Waiting);

    private void Signal(Guid key)
    {
        if (_waiters.TryGetValue(key, out var waiting))
        {
            foreach (var waiter in waiting.Keys)
            {
                waiter.Set();
            }
        }
    }

    private void Remove(Waiter waiter)
    {
        if (_waiters.TryGetValue(waiter.TaskId, out var waiting) && waiting.TryRemove(waiter, out _) && waiting.IsEmpty)
        {
            _waiters.TryRemove(new KeyValuePair<Guid, ConcurrentDictionary<Waiter, byte>>(waiter.TaskId, waiting));
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Listening for task changes failed; event streams poll until it works again (retry in {Seconds} s)")]
    private partial void LogListenFailed(Exception exception, double seconds);

    /// <summary>One stream's wake-up for one task.</summary>
    public sealed class Waiter(TaskChangeFeed feed, Guid taskId) : IDisposable
    {
        private readonly SemaphoreSlim _signal = new(0, 1);
        private int _waiting;

        public Guid TaskId { get; } = taskId;

        /// <summary>True while <see cref="WaitAsync"/> runs.</summary>
        internal bool Waiting => Volatile.Read(ref _waiting) > 0;

        /// <summary>Waits until the task changed (since the last wait) or <paramref name="timeout"/> passed.</summary>
        public async Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _waiting);
            try
            {
                return await _signal.WaitAsync(timeout, cancellationToken);
            }
            finally
            {
                Interlocked.Decrement(ref _waiting);
            }
        }

        public void Dispose()
        {
            feed.Remove(this);
            _signal.Dispose();
        }

        internal void Set()
        {
            try
            {
                if (_signal.CurrentCount == 0)
                {
                    _signal.Release();
                }
            }
            catch (Exception ex) when (ex is SemaphoreFullException or ObjectDisposedException)
            {
                // Already signalled, or the stream has ended.
            }
        }
    }
}
