using System.Diagnostics;
using System.Reflection;
using System.Runtime.ExceptionServices;
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
/// Three round trips per message: one statement creates (already marked consumed: the mark commits with the
/// consumer's effects or not at all) or updates and locks the inbox row, one <c>SaveChanges</c> batch carries the
/// consumer's writes and its outgoing messages, then the commit. After the commit the outgoing messages are sent
/// from memory.
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
    // Creates the row on first receipt, marked consumed at once: it exists only if this transaction, and with it the
    // consumer's effects, commits (a failed attempt rolls it back with them), so the mark needs no UPDATE of its own.
    // On a redelivery the update both counts it and takes the row lock, so a concurrent duplicate waits here until
    // the first attempt commits or rolls back, and then reads the committed row. (xmax = 0) tells an inserted row
    // from an updated one; an updated row not consumed (written before rows were created consumed) is marked as before.
    private const string ClaimSql = """
        INSERT INTO messaging_inbox_state (message_id, consumer_id, received, receive_count, consumed) VALUES ($1, $2, $3, 1, $3)
        ON CONFLICT (message_id, consumer_id) DO UPDATE SET receive_count = messaging_inbox_state.receive_count + 1
        RETURNING message_id, received, receive_count, consumed, xmax = 0
        """;

    // The batch form: every message of a batch claimed in one statement, in the order of their ids (so that two batches
    // sharing messages lock them in the same order); a message the batch holds twice is one row, received twice.
    private const string ClaimAllSql = """
        INSERT INTO messaging_inbox_state (message_id, consumer_id, received, receive_count, consumed)
        SELECT id, $2, $3, count(*)::int, $3 FROM unnest($1::uuid[]) AS ids(id) GROUP BY id ORDER BY id
        ON CONFLICT (message_id, consumer_id) DO UPDATE SET receive_count = messaging_inbox_state.receive_count + EXCLUDED.receive_count
        RETURNING message_id, received, receive_count, consumed, xmax = 0
        """;

    public Task Send<T>(ConsumeContext<T> context, OutboxConsumeOptions consumeOptions, IPipe<OutboxConsumeContext<T>> next)
        where T : class
    {
        if (BatchDispatch<T>.Send is { } batch)
        {
            return batch(this, context, consumeOptions, next);
        }

        var messageId = context.GetOriginalMessageId() ?? throw new MessageException(typeof(T), "The inbox needs a MessageId on every message.");
        return RunAsync(context, consumeOptions, () => ConsumeOnceAsync(context, consumeOptions, next, [messageId]));
    }

    public void Probe(ProbeContext context)
    {
        var scope = context.CreateFilterScope("outboxContextFactory");
        scope.Add("provider", "agents-postgresql");
    }

    /// <summary>
    /// A batch consumer (<c>IConsumer&lt;Batch&lt;T&gt;&gt;</c>) runs once per batch: one transaction claims every message's
    /// inbox row, runs the consumer with the messages not consumed before, marks them consumed and stores the outgoing
    /// messages. Should the batch fail, each of its messages is run again alone, so that one poison message does not hold
    /// back the others: those commit, and the failure of the rest is rethrown to the bus's retry and error handling.
    /// </summary>
    private async Task SendBatchAsync<TMessage>(ConsumeContext<Batch<TMessage>> context, OutboxConsumeOptions consumeOptions, IPipe<OutboxConsumeContext<Batch<TMessage>>> next)
        where TMessage : class
    {
        var batch = context.Message;
        var ids = new Guid[batch.Length];
        for (var i = 0; i < ids.Length; i++)
        {
            ids[i] = batch[i].GetOriginalMessageId() ?? throw new MessageException(typeof(TMessage), "The inbox needs a MessageId on every message.");
        }

        try
        {
            await RunAsync(context, consumeOptions, () => ConsumeOnceAsync(context, consumeOptions, next, ids, Narrow));
        }
        catch (Exception ex) when (ids.Length > 1 && !context.CancellationToken.IsCancellationRequested)
        {
            LogBatchSplit(ids.Length, consumeOptions.ConsumerType, ex.GetType().Name);
            Exception? first = null;
            for (var i = 0; i < ids.Length; i++)
            {
                var single = new MessageConsumeContext<Batch<TMessage>>(context, new InboxBatch<TMessage>(batch, [batch[i]]));
                Guid[] id = [ids[i]];
                try
                {
                    await RunAsync(single, consumeOptions, () => ConsumeOnceAsync(single, consumeOptions, next, id));
                }
                catch (Exception failure) when (!context.CancellationToken.IsCancellationRequested)
                {
                    first ??= failure;
                }
            }

            if (first is not null)
            {
                ExceptionDispatchInfo.Throw(first);
            }
        }

        ConsumeContext<Batch<TMessage>> Narrow(HashSet<Guid> fresh)
        {
            var kept = new List<ConsumeContext<TMessage>>(fresh.Count);
            for (var i = 0; i < ids.Length; i++)
            {
                if (fresh.Remove(ids[i]))
                {
                    kept.Add(batch[i]);
                }
            }

            return new MessageConsumeContext<Batch<TMessage>>(context, new InboxBatch<TMessage>(batch, kept));
        }
    }

    private async Task RunAsync<T>(ConsumeContext<T> context, OutboxConsumeOptions consumeOptions, Func<Task<Outcome>> consumeOnce)
        where T : class
    {
        var limit = Math.Max(1, options.Value.ConcurrencyRetryLimit);
        var started = Stopwatch.GetTimestamp();
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var outcome = await consumeOnce();
                if (outcome.Duplicate is { } duplicate)
                {
                    // Acknowledge it: a message no consumer reported consumed would be moved to the queue's _skipped queue.
                    await context.NotifyConsumed(context, Stopwatch.GetElapsedTime(started), consumeOptions.ConsumerType);
                    MessagingMetrics.InboxDuplicates.Add(1, new KeyValuePair<string, object?>("consumer", consumeOptions.ConsumerType));
                    LogDuplicate(duplicate.MessageId, consumeOptions.ConsumerType, duplicate.ReceiveCount);
                }
                else
                {
                    delivery.Dispatch(outcome.Outgoing);
                }

                return;
            }
            catch (Exception ex) when (attempt < limit && ConflictDetection.IsRetryableConflict(ex))
            {
                LogConflict(context.MessageId, attempt, ex.GetType().Name);
                await Task.Delay(ConflictDetection.Backoff(attempt), timeProvider, context.CancellationToken);
            }
            finally
            {
                dbContext.ChangeTracker.Clear();
            }
        }
    }

    private async Task<Outcome> ConsumeOnceAsync<T>(
        ConsumeContext<T> context, OutboxConsumeOptions consumeOptions, IPipe<OutboxConsumeContext<T>> next, Guid[] messageIds, Func<HashSet<Guid>, ConsumeContext<T>>? narrow = null)
        where T : class
    {
        var cancellationToken = context.CancellationToken;
        // A failed statement fails the whole message (and its retry starts over): no savepoint around each SaveChanges,
        // which would be two more round trips every time.
        dbContext.Database.AutoSavepointsEnabled = false;
        await using var transaction = await dbContext.Database.BeginTransactionAsync(cancellationToken);
        var claimed = await ClaimAsync(transaction, messageIds, consumeOptions.ConsumerId, cancellationToken);
        var fresh = claimed.Where(x => x.Inserted || x.Row.Consumed is null).Select(x => x.Row).ToList();
        if (fresh.Count == 0)
        {
            await transaction.CommitAsync(cancellationToken);
            return new Outcome(claimed[0].Row, []);
        }

        foreach (var (inbox, inserted) in claimed)
        {
            if (inserted)
            {
                // Stored consumed already; to the consumer it is a message not consumed yet.
                inbox.Consumed = null;
            }
            else if (inbox.Consumed is null)
            {
                // Marked consumed by an UPDATE in the unit of work's SaveChanges.
                dbContext.Attach(inbox);
            }
        }

        // A batch goes on with the messages not consumed before (and each once).
        if (narrow is not null && fresh.Count < messageIds.Length)
        {
            context = narrow(fresh.Select(x => x.MessageId).ToHashSet());
        }

        var outboxContext = new InboxOutboxConsumeContext<TDbContext, T>(context, consumeOptions, provider, dbContext, fresh, timeProvider);

        // Schedule/Unschedule (state-machine timeouts included) write to the same transaction.
        var scheduler = new ConsumeMessageSchedulerContext(outboxContext, _ =>
            new MessageScheduler(new DurableScheduleMessageProvider(outboxContext, dbContext), context.GetPayload<IBusTopology>()));
        outboxContext.AddOrUpdatePayload<MessageSchedulerContext>(() => scheduler, _ => scheduler);

        await next.Send(outboxContext);
        await dbContext.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return new Outcome(null, outboxContext.Outgoing);
    }

    private async Task<List<(InboxState Row, bool Inserted)>> ClaimAsync(IDbContextTransaction transaction, Guid[] messageIds, Guid consumerId, CancellationToken cancellationToken)
    {
        var connection = (NpgsqlConnection)dbContext.Database.GetDbConnection();
        await using var command = new NpgsqlCommand(messageIds.Length == 1 ? ClaimSql : ClaimAllSql, connection, (NpgsqlTransaction)transaction.GetDbTransaction());
        command.Parameters.Add(messageIds.Length == 1 ? new NpgsqlParameter { Value = messageIds[0] } : new NpgsqlParameter { Value = messageIds });
        command.Parameters.Add(new NpgsqlParameter { Value = consumerId });
        command.Parameters.Add(new NpgsqlParameter { Value = timeProvider.GetUtcNow().UtcDateTime });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var claimed = new List<(InboxState, bool)>(messageIds.Length);
        while (await reader.ReadAsync(cancellationToken))
        {
            // Both statements return the same columns.
            claimed.Add((new InboxState
            {
                MessageId = reader.GetGuid(0),
                ConsumerId = consumerId,
                Received = reader.GetDateTime(1),
                ReceiveCount = reader.GetInt32(2),
                Consumed = await reader.IsDBNullAsync(3, cancellationToken) ? null : reader.GetDateTime(3),
            }, reader.GetBoolean(4)));
        }

        return claimed.Count > 0 ? claimed : throw new InvalidOperationException("The inbox claim returned no row.");
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Message {MessageId} already consumed by {ConsumerType} (receive #{ReceiveCount}); acknowledged without running again")]
    private partial void LogDuplicate(Guid messageId, string consumerType, int receiveCount);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Message {MessageId} hit a database conflict on attempt {Attempt} ({Error}); retrying")]
    private partial void LogConflict(Guid? messageId, int attempt, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A batch of {Count} messages for {ConsumerType} failed ({Error}); running each of them alone")]
    private partial void LogBatchSplit(int count, string consumerType, string error);

    /// <summary>Either the inbox row of a message already consumed, or the rows the consumer committed.</summary>
    private readonly record struct Outcome(InboxState? Duplicate, IReadOnlyList<OutboxMessage> Outgoing);

    /// <summary>The batch handler for <typeparamref name="T"/> when it is a <see cref="Batch{T}"/>, else null.</summary>
    private static class BatchDispatch<T>
        where T : class
    {
        public static readonly Func<InboxOutboxContextFactory<TDbContext>, ConsumeContext<T>, OutboxConsumeOptions, IPipe<OutboxConsumeContext<T>>, Task>? Send = Create();

        private static Func<InboxOutboxContextFactory<TDbContext>, ConsumeContext<T>, OutboxConsumeOptions, IPipe<OutboxConsumeContext<T>>, Task>? Create()
        {
            if (!typeof(T).IsGenericType || typeof(T).GetGenericTypeDefinition() != typeof(Batch<>))
            {
                return null;
            }

            var method = typeof(InboxOutboxContextFactory<TDbContext>)
                .GetMethod(nameof(SendBatchAsync), BindingFlags.NonPublic | BindingFlags.Instance)!
                .MakeGenericMethod(typeof(T).GetGenericArguments()[0]);
            return method.CreateDelegate<Func<InboxOutboxContextFactory<TDbContext>, ConsumeContext<T>, OutboxConsumeOptions, IPipe<OutboxConsumeContext<T>>, Task>>();
        }
    }
}
