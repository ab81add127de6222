using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Agents.Messaging.Retention;

/// <summary>
/// Removes inbox records and delivered outbox rows older than
/// <see cref="DurableMessagingOptions.RetentionWindow"/>, in short batches, every
/// <see cref="DurableMessagingOptions.RetentionInterval"/>, and rows of the service's own bookkeeping tables named by
/// <see cref="DurableMessagingOptions.Retain"/> older than their rule's window. Pending outbox rows are never removed.
/// </summary>
public sealed partial class MessagingRetentionService<TDbContext>(
    IServiceScopeFactory scopeFactory,
    TimeProvider timeProvider,
    IOptions<DurableMessagingOptions> options,
    ILogger<MessagingRetentionService<TDbContext>> logger) : BackgroundService
    where TDbContext : DbContext
{
    /// <summary>Runs one cleanup pass now; returns the inbox and outbox rows removed.</summary>
    public async Task<(int Inbox, int Outbox)> CleanupOnceAsync(CancellationToken cancellationToken)
    {
        var pass = await CleanupAsync(cancellationToken);
        return (pass.Inbox, pass.Outbox);
    }

    /// <summary>Runs one cleanup pass now; returns the rows removed per table.</summary>
    public async Task<RetentionPass> CleanupAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var now = timeProvider.GetUtcNow().UtcDateTime;
        await using var scope = scopeFactory.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TDbContext>();
        var inbox = await DeleteOlderThanAsync(db, "messaging_inbox_state", "received", now - settings.RetentionWindow, cancellationToken);

        // Only delivered outbox rows: a pending row (delivered IS NULL) never matches.
        var outbox = await DeleteOlderThanAsync(db, "messaging_outbox_message", "delivered", now - settings.RetentionWindow, cancellationToken);
        var other = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var rule in settings.AdditionalRetention)
        {
            other[rule.Table] = other.GetValueOrDefault(rule.Table) + await DeleteOlderThanAsync(db, rule.Table, rule.TimeColumn, now - rule.Window, cancellationToken);
        }

        return new RetentionPass(inbox, outbox, other);
    }

    private async Task<int> DeleteOlderThanAsync(TDbContext db, string table, string timeColumn, DateTime cutoff, CancellationToken cancellationToken)
    {
        if (new RetentionRule(table, timeColumn, TimeSpan.FromSeconds(1)).Problem is { } problem)
        {
            throw new InvalidOperationException(problem);
        }

        // Identifiers are checked above; the values are parameters.
        var sql = $"DELETE FROM {table} WHERE ctid IN (SELECT ctid FROM {table} WHERE {timeColumn} < @cutoff LIMIT @batch)";
        var batch = options.Value.RetentionBatchSize;
        int total = 0, removed;
        do
        {
            removed = await db.Database.ExecuteSqlRawAsync(
                sql,
                [new Npgsql.NpgsqlParameter("cutoff", cutoff), new Npgsql.NpgsqlParameter("batch", batch)],
                cancellationToken);
            total += removed;
        }
        while (removed == batch);

        return total;
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var pass = await CleanupAsync(stoppingToken);
                if (pass.Inbox + pass.Outbox > 0)
                {
                    LogRemoved(pass.Inbox, pass.Outbox);
                }

                foreach (var (table, removed) in pass.Other.Where(t => t.Value > 0))
                {
                    LogRemovedFrom(removed, table);
                }

                await Task.Delay(options.Value.RetentionInterval, timeProvider, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogFailed(ex);
                await Task.Delay(options.Value.RetentionInterval, timeProvider, stoppingToken);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Messaging retention removed {Inbox} inbox records and {Outbox} delivered outbox rows")]
    private partial void LogRemoved(int inbox, int outbox);

    [LoggerMessage(Level = LogLevel.Information, Message = "Retention removed {Removed} rows from {Table}")]
    private partial void LogRemovedFrom(int removed, string table);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Messaging retention failed; retrying at the next interval")]
    private partial void LogFailed(Exception exception);
}

/// <summary>Rows removed by one retention pass: inbox, delivered outbox, and per table of the additional rules.</summary>
public sealed record RetentionPass(int Inbox, int Outbox, IReadOnlyDictionary<string, int> Other);
