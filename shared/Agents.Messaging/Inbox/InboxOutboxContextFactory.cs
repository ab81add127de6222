using System.Diagnostics;
using Agents.Messaging.Data;
using Agents.Messaging.Outbox;
using Agents.Messaging.Scheduling;
using MassTransit;
using MassTransit.Context;
using MassTransit.Middleware;
using MassTransit.Scheduling;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Agents.Messaging.Inbox;

/// <summary>
/// Runs a consumer (or saga) inside one PostgreSQL transaction that also records the message in
/// the inbox and stores the consumer's outgoing messages. A redelivered message (same MessageId,
/// same consumer) finds its inbox row consumed and is acknowledged without running again;
/// concurrent duplicates wait on the inbox row lock and then see it consumed.
/// Conflicts (saga optimistic concurrency, duplicate saga insert) roll back and retry here, quickly,
/// before the bus retry policy is involved.
/// </summary>
/// <remarks>
/// Three round trips per message: one statement creates or updates and locks the inbox row, one
/// <c>SaveChanges</c> batch carries the consumer's writes, its outgoing messages and the inbox row's
/// consumed mark, then the commit. After the commit the outgoing messages are sent from memory.
/// </remarks>
internal sealed partial class InboxOutboxContextFactory<TDbContext>(
    TDbContext dbContext,
    IServiceProvider provider,
    OutboxDeliveryService<TDbContext> delivery,
    TimeProvider timeProvider,
    IOptions<DurableMessagingOptions> options,
    ILogger<InboxOutboxContextFactory<TDbContext>> logger) : IOutboxContextFactory<TDbContext>
    where TDbContext : DbContext
{
    // Creates the row on first receipt; on a redelivery the update both counts it and takes the row
    // lock, so a concurrent duplicate waits here until the first attempt commits or rolls back, and
    // then reads the committed row (consumed or not).
    private const string ClaimSql = """
        INSERT INTO messaging_inbox_state (message_id, consumer_id, received, receive_count) VALUES ($1, $2, $3, 1)
        ON CONFLICT (message_id, consumer_id) DO UPDATE SET receive_count = messaging_inbox_state.receive_count + 1
        RETURNING received, receive_count, consumed
        """;

    public async Task Send<T>(ConsumeContext<T> context, OutboxConsumeOptions consumeOptions, IPipe<OutboxConsumeContext<T>> next)
        where T : class
    {
        var messageId = context.GetOriginalMessageId() ?? throw new MessageException(typeof(T), "The inbox needs a MessageId on every message.");
        var limit = Math.Max(1, options.Value.ConcurrencyRetryLimit);
        var started = Stopwatch.GetTimestamp();
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var outcome = await ConsumeOnceAsync(context, consumeOptions, next, messageId);
                if (outcome.Duplicate is { } duplicate)
                {
                    // Acknowledge it: a message no consumer reported consumed would be moved to the queue's _skipped queue.
                    await context.NotifyConsumed(context, Stopwatch.GetElapsedTime(started), consumeOptions.ConsumerType);
                    MessagingMetrics.InboxDuplicates.Add(1, new KeyValuePair<string, object?>("consumer", consumeOptions.ConsumerType));
                    LogDuplicate(messageId, consumeOptions.ConsumerType, duplicate.ReceiveCount);
                }
                else
                {
                    delivery.Dispatch(outcome.Outgoing);
                }

                return;
            }
            catch (Exception ex) when (attempt < limit && ConflictDetection.IsRetryableConflict(ex))
            {
                LogConflict(messageId, attempt, ex.GetType().Name);
                await Task.Delay(ConflictDetection.Backoff(attempt), timeProvider, context.CancellationToken);
            }
            finally
            {
                dbContext.ChangeTracker.Clear();
            }
        }
    }

    public void Probe(ProbeContext context)
    {
        var scope = context.CreateFilterScope("outboxContextFactory");
        scope.Add("provider", "agents-postgresql");
    }

    private async Task<Outcome> ConsumeOnceAsync<T>(ConsumeContext<T> context, OutboxConsumeOptions consumeOptions, IPipe<OutboxConsumeContext<T>> next, Guid messageId)
        where T : class
    {
        var cancellationToken = context.CancellationToken;
        await using var transaction = await dbContext.Database.BeginTransactionAsync(cancellationToken);
        var inbox = await ClaimAsync(transaction, messageId, consumeOptions.ConsumerId, cancellationToken);
        if (inbox.Consumed is not null)
        {
            await transaction.CommitAsync(cancellationToken);
            return new Outcome(inbox, []);
        }

        dbContext.Attach(inbox);
        var outboxContext = new InboxOutboxConsumeContext<TDbContext, T>(context, consumeOptions, provider, dbContext, inbox, timeProvider);

        // Schedule/Unschedule (state-machine timeouts included) write to the same transaction.
        var scheduler = new ConsumeMessageSchedulerContext(outboxContext, _ =>
            new MessageScheduler(new DurableScheduleMessageProvider(outboxContext, dbContext), context.GetPayload<IBusTopology>()));
        outboxContext.AddOrUpdatePayload<MessageSchedulerContext>(() => scheduler, _ => scheduler);

        await next.Send(outboxContext);
        await dbContext.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return new Outcome(null, outboxContext.Outgoing);
    }

    private async Task<InboxState> ClaimAsync(IDbContextTransaction transaction, Guid messageId, Guid consumerId, CancellationToken cancellationToken)
    {
        var connection = (NpgsqlConnection)dbContext.Database.GetDbConnection();
        await using var command = new NpgsqlCommand(ClaimSql, connection, (NpgsqlTransaction)transaction.GetDbTransaction());
        command.Parameters.Add(new NpgsqlParameter { Value = messageId });
        command.Parameters.Add(new NpgsqlParameter { Value = consumerId });
        command.Parameters.Add(new NpgsqlParameter { Value = timeProvider.GetUtcNow().UtcDateTime });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            throw new InvalidOperationException("The inbox claim returned no row.");
        }

        return new InboxState
        {
            MessageId = messageId,
            ConsumerId = consumerId,
            Received = reader.GetDateTime(0),
            ReceiveCount = reader.GetInt32(1),
            Consumed = await reader.IsDBNullAsync(2, cancellationToken) ? null : reader.GetDateTime(2),
        };
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Message {MessageId} already consumed by {ConsumerType} (receive #{ReceiveCount}); acknowledged without running again")]
    private partial void LogDuplicate(Guid messageId, string consumerType, int receiveCount);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Message {MessageId} hit a database conflict on attempt {Attempt} ({Error}); retrying")]
    private partial void LogConflict(Guid messageId, int attempt, string error);

    /// <summary>Either the inbox row of a message already consumed, or the rows the consumer committed.</summary>
    private readonly record struct Outcome(InboxState? Duplicate, IReadOnlyList<OutboxMessage> Outgoing);
}
