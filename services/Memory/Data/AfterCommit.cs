using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Agents.Memory.Data;

/// <summary>
/// Work that must wait for the current transaction of the scope's <see cref="MemoryDbContext"/> to
/// commit: a consumer's writes commit with the durable-messaging inbox transaction, after the consumer
/// has returned, and the vector index must not learn about a memory that might still roll back.
/// Run after a commit, dropped after a rollback. Scoped (one per DbContext scope).
/// </summary>
public sealed partial class AfterCommit(ILogger<AfterCommit> logger) : DbTransactionInterceptor
{
    private readonly List<Func<CancellationToken, Task>> _pending = [];
    private readonly Lock _gate = new();

    /// <summary>Queues <paramref name="work"/> for right after the current transaction commits.</summary>
    public void Add(Func<CancellationToken, Task> work)
    {
        lock (_gate)
        {
            _pending.Add(work);
        }
    }

    public override async Task TransactionCommittedAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        foreach (var work in Take())
        {
            try
            {
                await work(cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The rows are committed; the index catches up on its next reload (or the next store of the same memory).
                LogFailed(logger, ex);
            }
        }
    }

    public override void TransactionCommitted(DbTransaction transaction, TransactionEndEventData eventData) =>
        TransactionCommittedAsync(transaction, eventData).GetAwaiter().GetResult();

    public override Task TransactionRolledBackAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        Take();
        return Task.CompletedTask;
    }

    public override void TransactionRolledBack(DbTransaction transaction, TransactionEndEventData eventData) => Take();

    private List<Func<CancellationToken, Task>> Take()
    {
        lock (_gate)
        {
            var work = _pending.ToList();
            _pending.Clear();
            return work;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Updating the vector index after a commit failed.")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
