using Agents.Messaging.Data;
using MassTransit;
using MassTransit.Middleware;
using MassTransit.Serialization;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Agents.Messaging.Outbox;

/// <summary>
/// Sends committed outbox rows to the broker. Wakes on <see cref="OutboxSignal"/> right after a
/// local commit and sweeps every <see cref="DurableMessagingOptions.SweepInterval"/> (or at the next
/// due time of a scheduled row) for everything else. Rows are claimed with
/// <c>FOR UPDATE SKIP LOCKED</c>, so replicas running this service never send the same row twice
/// while its transaction is open; a crash after sending and before commit sends it again, which the
/// receiving inbox absorbs (delivery is at least once, effects exactly once).
/// </summary>
internal sealed partial class OutboxDeliveryService<TDbContext>(
    IServiceScopeFactory scopeFactory,
    IBusControl bus,
    OutboxSignal signal,
    TimeProvider timeProvider,
    IOptions<DurableMessagingOptions> options,
    ILogger<OutboxDeliveryService<TDbContext>> logger) : BackgroundService
    where TDbContext : DbContext
{
    private readonly DurableMessagingOptions _options = options.Value;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_options.DeliveryEnabled)
        {
            return;
        }

        await bus.WaitForHealthStatus(BusHealthStatus.Healthy, stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            TimeSpan wait;
            try
            {
                var result = await DeliverBatchAsync(stoppingToken);
                if (result.Sent == _options.DeliveryBatchSize && result.Failed == 0)
                {
                    continue;
                }

                wait = result.Failed > 0 ? _options.SweepInterval : result.NextDue ?? _options.SweepInterval;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogDeliveryFailed(ex);
                wait = _options.SweepInterval;
            }

            if (wait > TimeSpan.Zero)
            {
                try
                {
                    await signal.WaitAsync(wait < _options.SweepInterval ? wait : _options.SweepInterval, timeProvider, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async Task<BatchResult> DeliverBatchAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopeFactory.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TDbContext>();
        var now = timeProvider.GetUtcNow().UtcDateTime;
        var limit = _options.DeliveryBatchSize;

        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var rows = await db.Set<OutboxMessage>()
            .FromSql($"""
                SELECT * FROM messaging_outbox_message
                WHERE delivered IS NULL AND (due_time IS NULL OR due_time <= {now})
                ORDER BY sequence_number
                LIMIT {limit}
                FOR UPDATE SKIP LOCKED
                """)
            .AsTracking()
            .ToListAsync(cancellationToken);

        var failed = 0;
        if (rows.Count > 0)
        {
            var results = await Task.WhenAll(rows.Select(row => SendAsync(row, cancellationToken)));
            var delivered = timeProvider.GetUtcNow().UtcDateTime;
            for (var i = 0; i < rows.Count; i++)
            {
                if (results[i])
                {
                    rows[i].Delivered = delivered;
                }
                else
                {
                    rows[i].FailedAttempts++;
                    failed++;
                }
            }

            await db.SaveChangesAsync(cancellationToken);
        }

        TimeSpan? nextDue = null;
        if (rows.Count < limit)
        {
            var due = await db.Set<OutboxMessage>()
                .Where(x => x.Delivered == null && x.DueTime != null && x.DueTime > now)
                .MinAsync(x => x.DueTime, cancellationToken);
            if (due is { } d)
            {
                nextDue = d - timeProvider.GetUtcNow().UtcDateTime;
            }
        }

        await transaction.CommitAsync(cancellationToken);
        return new BatchResult(rows.Count - failed, failed, nextDue);
    }

    private async Task<bool> SendAsync(OutboxMessage row, CancellationToken cancellationToken)
    {
        if (row.DestinationAddress is null)
        {
            LogNoDestination(row.SequenceNumber, row.MessageId);
            return true;
        }

        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.SendTimeout);
            var endpoint = await bus.GetSendEndpoint(row.DestinationAddress);
            await endpoint.Send(new SerializedMessageBody(), new OutboxMessageSendPipe(row, row.DestinationAddress), timeout.Token);
            return true;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            LogSendFailed(ex, row.SequenceNumber, row.MessageId);
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Outbox delivery failed; retrying at the next sweep")]
    private partial void LogDeliveryFailed(Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox message {SequenceNumber} ({MessageId}) could not be sent; it stays pending")]
    private partial void LogSendFailed(Exception exception, long sequenceNumber, Guid messageId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox message {SequenceNumber} ({MessageId}) has no destination address and is dropped")]
    private partial void LogNoDestination(long sequenceNumber, Guid messageId);

    private readonly record struct BatchResult(int Sent, int Failed, TimeSpan? NextDue);
}
