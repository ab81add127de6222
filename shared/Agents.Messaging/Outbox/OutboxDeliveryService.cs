using System.Collections.Concurrent;
using System.Threading.Channels;
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
/// Sends committed outbox rows to the broker, on two paths:
/// <list type="bullet">
/// <item>From memory: rows committed by a consumer or a scope of this process are handed over right after
/// the commit (<see cref="Dispatch"/>) and sent at once, concurrently, with no query; the sent rows are
/// marked delivered (or deleted, <see cref="DurableMessagingOptions.RemoveSentRows"/>) in batches: one
/// statement for all rows confirmed in the last <see cref="DurableMessagingOptions.SettleInterval"/>.</item>
/// <item>The sweep, every <see cref="DurableMessagingOptions.SweepInterval"/> or at the next due time:
/// claims rows with <c>FOR UPDATE SKIP LOCKED</c>, sends them and settles them in the claiming transaction.
/// It takes scheduled rows that became due, and unscheduled rows older than
/// <see cref="DurableMessagingOptions.SweepGracePeriod"/>: rows whose process died between commit and send,
/// or that its memory path could not send. The grace keeps the sweep of another replica away from rows the
/// committing process is about to send itself.</item>
/// </list>
/// Delivery is at least once (a crash after the send and before the settling statement sends the row again, as does a
/// sweep that overtakes a memory send slower than the grace period); the receiving inbox absorbs duplicates.
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
    private const int SettleBatchLimit = 1000;
    private static readonly KeyValuePair<string, object?> MemoryPath = new("path", "memory");
    private static readonly KeyValuePair<string, object?> SweepPath = new("path", "sweep");
    private static readonly KeyValuePair<string, object?> ClaimPath = new("path", "claim");

    private readonly DurableMessagingOptions _options = options.Value;
    private readonly Channel<Committed> _committed = Channel.CreateBounded<Committed>(
        new BoundedChannelOptions(options.Value.DeliveryQueueCapacity) { FullMode = BoundedChannelFullMode.Wait });
    private readonly Channel<long> _sent = Channel.CreateUnbounded<long>(new UnboundedChannelOptions { SingleReader = true });

    // Rows this process is sending from memory or has sent and not yet settled: the local sweep leaves them alone.
    private readonly ConcurrentDictionary<long, byte> _owned = new();
    private readonly ConcurrentDictionary<Task, byte> _claims = new();

    // While the sweep waits: the UTC ticks at which it will look again; long.MaxValue while it is busy.
    private long _wakeAt = long.MaxValue;

    /// <summary>
    /// Hands over rows whose transaction has just committed. Unscheduled rows are sent from memory
    /// (unless the queue is full: then the sweep takes them); scheduled rows wake the sweep when they are
    /// due before it would look again.
    /// </summary>
    public void Dispatch(IReadOnlyList<OutboxMessage> rows)
    {
        if (!_options.DeliveryEnabled || rows.Count == 0)
        {
            return;
        }

        var now = timeProvider.GetTimestamp();
        foreach (var row in rows)
        {
            if (row.SequenceNumber <= 0)
            {
                // Never stored (an unscheduled row removed before the commit).
                continue;
            }

            if (row.DueTime is { } due)
            {
                if (due.Ticks < Interlocked.Read(ref _wakeAt))
                {
                    signal.Notify();
                }

                continue;
            }

            if (_owned.TryAdd(row.SequenceNumber, 0) && !_committed.Writer.TryWrite(new Committed(row, now)))
            {
                _owned.TryRemove(row.SequenceNumber, out _);
            }
        }
    }

    /// <summary>
    /// Delivers rows stored inside a transaction this library did not commit itself (a scope's explicit
    /// transaction): they are claimed by sequence number, so rows whose transaction rolled back are never sent.
    /// </summary>
    public void ClaimCommitted(long[] sequenceNumbers)
    {
        if (!_options.DeliveryEnabled || sequenceNumbers.Length == 0)
        {
            return;
        }

        var claim = Task.Run(async () =>
        {
            try
            {
                await SweepOnceAsync(sequenceNumbers, CancellationToken.None);
            }
            catch (Exception ex)
            {
                LogDeliveryFailed(ex);
            }
        });
        _claims.TryAdd(claim, 0);
        claim.ContinueWith(t => _claims.TryRemove(t, out _), TaskScheduler.Default);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_options.DeliveryEnabled)
        {
            return;
        }

        await bus.WaitForHealthStatus(BusHealthStatus.Healthy, stoppingToken);
        var settler = Task.Run(SettleSentAsync, CancellationToken.None);
        var senders = Enumerable.Range(0, _options.DeliveryConcurrency).Select(_ => Task.Run(() => SendCommittedAsync(stoppingToken), CancellationToken.None)).ToArray();
        try
        {
            await SweepLoopAsync(stoppingToken);
        }
        finally
        {
            _committed.Writer.TryComplete();
            await Task.WhenAll(senders);
            await Task.WhenAll(_claims.Keys);
            _sent.Writer.TryComplete();

            // Settles what was sent before stopping, so a restart does not send it again.
            await settler;
        }
    }

    private async Task SendCommittedAsync(CancellationToken stoppingToken)
    {
        var stale = _options.SweepGracePeriod / 2;
        try
        {
            await foreach (var item in _committed.Reader.ReadAllAsync(stoppingToken))
            {
                var sequenceNumber = item.Row.SequenceNumber;

                // Waited so long that the sweep may take it: leave it to the sweep rather than race it.
                if (timeProvider.GetElapsedTime(item.At) > stale)
                {
                    _owned.TryRemove(sequenceNumber, out _);
                    continue;
                }

                if (await SendAsync(item.Row, stoppingToken))
                {
                    MessagingMetrics.OutboxSent.Add(1, MemoryPath);
                    _sent.Writer.TryWrite(sequenceNumber);
                }
                else
                {
                    _owned.TryRemove(sequenceNumber, out _);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Rows not sent stay in the table; the sweep (here after a restart, or another replica) sends them.
        }
    }

    private async Task SettleSentAsync()
    {
        var batch = new List<long>(SettleBatchLimit);
        while (await _sent.Reader.WaitToReadAsync())
        {
            // Lets confirmations gather for a moment: one statement (and its transaction) for many rows. Only the
            // mark waits; the messages are already at the broker.
            await Task.Delay(_options.SettleInterval, timeProvider);
            while (batch.Count < SettleBatchLimit && _sent.Reader.TryRead(out var sequenceNumber))
            {
                batch.Add(sequenceNumber);
            }

            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await using var scope = scopeFactory.CreateAsyncScope();
                    var db = scope.ServiceProvider.GetRequiredService<TDbContext>();
                    await SettleAsync(db, [.. batch], CancellationToken.None);
                    MessagingMetrics.OutboxSettleBatch.Record(batch.Count);
                    break;
                }
                catch (Exception ex) when (attempt < 3)
                {
                    LogSettleFailed(ex, batch.Count, attempt);
                    await Task.Delay(_options.SweepInterval, timeProvider);
                }
                catch (Exception ex)
                {
                    // The rows stay pending: the sweep sends them again after the grace period (the receivers' inboxes absorb that).
                    LogSettleFailed(ex, batch.Count, attempt);
                    break;
                }
            }

            foreach (var sequenceNumber in batch)
            {
                _owned.TryRemove(sequenceNumber, out _);
            }

            batch.Clear();
        }
    }

    private async Task SweepLoopAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            Interlocked.Exchange(ref _wakeAt, long.MaxValue);
            TimeSpan wait;
            try
            {
                var result = await SweepOnceAsync(null, stoppingToken);
                if (result.Full && result.Failed == 0)
                {
                    continue;
                }

                wait = result.Failed > 0 || result.NextDue is not { } nextDue || nextDue > _options.SweepInterval ? _options.SweepInterval : nextDue;
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
                Interlocked.Exchange(ref _wakeAt, (timeProvider.GetUtcNow().UtcDateTime + wait).Ticks);
                try
                {
                    await signal.WaitAsync(wait, timeProvider, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>
    /// One claiming transaction: rows that are due (or exactly <paramref name="only"/>), locked, sent
    /// concurrently, then settled (sent) or counted as failed, and committed.
    /// </summary>
    private async Task<SweepResult> SweepOnceAsync(long[]? only, CancellationToken cancellationToken)
    {
        await using var scope = scopeFactory.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TDbContext>();
        var now = timeProvider.GetUtcNow().UtcDateTime;
        var settled = now - _options.SweepGracePeriod;
        var limit = _options.DeliveryBatchSize;

        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var claimed = only is null
            ? await db.Set<OutboxMessage>()
                .FromSql($"""
                    SELECT * FROM messaging_outbox_message
                    WHERE delivered IS NULL AND ((due_time IS NULL AND created < {settled}) OR due_time <= {now})
                    ORDER BY sequence_number
                    LIMIT {limit}
                    FOR UPDATE SKIP LOCKED
                    """)
                .AsNoTracking()
                .ToListAsync(cancellationToken)
            : await db.Set<OutboxMessage>()
                .FromSql($"""
                    SELECT * FROM messaging_outbox_message
                    WHERE sequence_number = ANY({only}) AND delivered IS NULL AND (due_time IS NULL OR due_time <= {now})
                    ORDER BY sequence_number
                    FOR UPDATE SKIP LOCKED
                    """)
                .AsNoTracking()
                .ToListAsync(cancellationToken);

        var rows = claimed.Where(r => !_owned.ContainsKey(r.SequenceNumber)).ToList();
        var failed = new List<long>();
        if (rows.Count > 0)
        {
            var results = await Task.WhenAll(rows.Select(row => SendAsync(row, cancellationToken)));
            var sent = new List<long>(rows.Count);
            for (var i = 0; i < rows.Count; i++)
            {
                (results[i] ? sent : failed).Add(rows[i].SequenceNumber);
            }

            MessagingMetrics.OutboxSent.Add(sent.Count, only is null ? SweepPath : ClaimPath);
            var failedIds = failed.ToArray();
            await SettleAsync(db, [.. sent], cancellationToken);
            if (failedIds.Length > 0)
            {
                await db.Database.ExecuteSqlAsync(
                    $"UPDATE messaging_outbox_message SET failed_attempts = failed_attempts + 1 WHERE sequence_number = ANY({failedIds})", cancellationToken);
            }
        }

        TimeSpan? nextDue = null;
        var full = only is null && claimed.Count == limit && rows.Count > 0;
        if (only is null && !full)
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
        return new SweepResult(full, failed.Count, nextDue);
    }

    /// <summary>Marks sent rows delivered, or deletes them (<see cref="DurableMessagingOptions.RemoveSentRows"/>): one statement.</summary>
    private Task<int> SettleAsync(TDbContext db, long[] sequenceNumbers, CancellationToken cancellationToken)
    {
        if (sequenceNumbers.Length == 0)
        {
            return Task.FromResult(0);
        }

        if (_options.RemoveSentRows)
        {
            return db.Database.ExecuteSqlAsync($"DELETE FROM messaging_outbox_message WHERE sequence_number = ANY({sequenceNumbers})", cancellationToken);
        }

        var delivered = timeProvider.GetUtcNow().UtcDateTime;
        return db.Database.ExecuteSqlAsync(
            $"UPDATE messaging_outbox_message SET delivered = {delivered} WHERE sequence_number = ANY({sequenceNumbers})", cancellationToken);
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Marking {Count} sent outbox rows delivered failed (attempt {Attempt})")]
    private partial void LogSettleFailed(Exception exception, int count, int attempt);

    private readonly record struct Committed(OutboxMessage Row, long At);

    private readonly record struct SweepResult(bool Full, int Failed, TimeSpan? NextDue);
}
