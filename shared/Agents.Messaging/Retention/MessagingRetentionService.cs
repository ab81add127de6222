using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Agents.Messaging.Retention;

/// <summary>
/// Removes inbox records and delivered outbox rows older than
/// <see cref="DurableMessagingOptions.RetentionWindow"/>, in short batches, every
/// <see cref="DurableMessagingOptions.RetentionInterval"/>. Pending outbox rows are never removed.
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
        var settings = options.Value;
        var cutoff = timeProvider.GetUtcNow().UtcDateTime - settings.RetentionWindow;
        var batch = settings.RetentionBatchSize;
        await using var scope = scopeFactory.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TDbContext>();

        int inbox = 0, outbox = 0, removed;
        do
        {
            removed = await db.Database.ExecuteSqlAsync(
                $"DELETE FROM messaging_inbox_state WHERE ctid IN (SELECT ctid FROM messaging_inbox_state WHERE received < {cutoff} LIMIT {batch})",
                cancellationToken);
            inbox += removed;
        }
        while (removed == batch);

        do
        {
            removed = await db.Database.ExecuteSqlAsync(
                $"DELETE FROM messaging_outbox_message WHERE sequence_number IN (SELECT sequence_number FROM messaging_outbox_message WHERE delivered < {cutoff} LIMIT {batch})",
                cancellationToken);
            outbox += removed;
        }
        while (removed == batch);

        return (inbox, outbox);
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var (inbox, outbox) = await CleanupOnceAsync(stoppingToken);
                if (inbox + outbox > 0)
                {
                    LogRemoved(inbox, outbox);
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Messaging retention failed; retrying at the next interval")]
    private partial void LogFailed(Exception exception);
}
