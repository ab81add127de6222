using Agents.Messaging.Data;
using Agents.Messaging.Outbox;
using Agents.Messaging.Scheduling;
using MassTransit;
using MassTransit.Context;
using MassTransit.Middleware;
using MassTransit.Scheduling;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Agents.Messaging.Inbox;

/// <summary>
/// Runs a consumer (or saga) inside one PostgreSQL transaction that also records the message in
/// the inbox and stores the consumer's outgoing messages. A redelivered message (same MessageId,
/// same consumer) finds its inbox row consumed and is acknowledged without running again;
/// concurrent duplicates wait on the inbox row lock and then see it consumed.
/// Conflicts (saga optimistic concurrency, duplicate saga insert) roll back and retry here, quickly,
/// before the bus retry policy is involved.
/// </summary>
internal sealed partial class InboxOutboxContextFactory<TDbContext>(
    TDbContext dbContext,
    IServiceProvider provider,
    OutboxSignal signal,
    TimeProvider timeProvider,
    IOptions<DurableMessagingOptions> options,
    ILogger<InboxOutboxContextFactory<TDbContext>> logger) : IOutboxContextFactory<TDbContext>
    where TDbContext : DbContext
{
    public async Task Send<T>(ConsumeContext<T> context, OutboxConsumeOptions consumeOptions, IPipe<OutboxConsumeContext<T>> next)
        where T : class
    {
        var messageId = context.GetOriginalMessageId() ?? throw new MessageException(typeof(T), "The inbox needs a MessageId on every message.");
        var limit = Math.Max(1, options.Value.ConcurrencyRetryLimit);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var outgoing = await ConsumeOnceAsync(context, consumeOptions, next, messageId);
                if (outgoing > 0)
                {
                    signal.Notify();
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

    private async Task<int> ConsumeOnceAsync<T>(ConsumeContext<T> context, OutboxConsumeOptions consumeOptions, IPipe<OutboxConsumeContext<T>> next, Guid messageId)
        where T : class
    {
        var cancellationToken = context.CancellationToken;
        var consumerId = consumeOptions.ConsumerId;
        var now = timeProvider.GetUtcNow().UtcDateTime;

        await using var transaction = await dbContext.Database.BeginTransactionAsync(cancellationToken);

        // Insert-or-keep, then lock: a concurrent duplicate blocks here until the first attempt commits or rolls back.
        await dbContext.Database.ExecuteSqlAsync(
            $"INSERT INTO messaging_inbox_state (message_id, consumer_id, received, receive_count) VALUES ({messageId}, {consumerId}, {now}, 0) ON CONFLICT DO NOTHING",
            cancellationToken);
        var inbox = await dbContext.Set<InboxState>()
            .FromSql($"SELECT * FROM messaging_inbox_state WHERE message_id = {messageId} AND consumer_id = {consumerId} FOR UPDATE")
            .AsTracking()
            .SingleAsync(cancellationToken);
        inbox.ReceiveCount++;

        if (inbox.Consumed is not null)
        {
            await dbContext.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            LogDuplicate(messageId, consumeOptions.ConsumerType, inbox.ReceiveCount);
            return 0;
        }

        var outboxContext = new InboxOutboxConsumeContext<TDbContext, T>(context, consumeOptions, provider, dbContext, inbox, timeProvider);

        // Schedule/Unschedule (state-machine timeouts included) write to the same transaction.
        var scheduler = new ConsumeMessageSchedulerContext(outboxContext, _ =>
            new MessageScheduler(new DurableScheduleMessageProvider(outboxContext, dbContext), context.GetPayload<IBusTopology>()));
        outboxContext.AddOrUpdatePayload<MessageSchedulerContext>(() => scheduler, _ => scheduler);

        await next.Send(outboxContext);
        await dbContext.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return outboxContext.OutgoingCount;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Message {MessageId} already consumed by {ConsumerType} (receive #{ReceiveCount}); skipped")]
    private partial void LogDuplicate(Guid messageId, string consumerType, int receiveCount);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Message {MessageId} hit a database conflict on attempt {Attempt} ({Error}); retrying")]
    private partial void LogConflict(Guid messageId, int attempt, string error);
}
