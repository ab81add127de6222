using Agents.Messaging.Data;
using Agents.Messaging.Outbox;
using MassTransit;
using MassTransit.Middleware;
using MassTransit.Middleware.Outbox;
using Microsoft.EntityFrameworkCore;

namespace Agents.Messaging.Inbox;

/// <summary>
/// The consume context a consumer sees inside the inbox transaction: whatever it publishes or
/// sends becomes an outbox row in that transaction, delivered by the delivery service after commit.
/// </summary>
internal sealed class InboxOutboxConsumeContext<TDbContext, TMessage> : OutboxConsumeContextProxy<TMessage>
    where TDbContext : DbContext
    where TMessage : class
{
    private readonly TDbContext _dbContext;
    private readonly InboxState _inbox;
    private readonly TimeProvider _timeProvider;
    private readonly Lock _gate = new();

    public InboxOutboxConsumeContext(ConsumeContext<TMessage> context, OutboxConsumeOptions options, IServiceProvider provider, TDbContext dbContext,
        InboxState inbox, TimeProvider timeProvider)
        : base(context, options, provider)
    {
        _dbContext = dbContext;
        _inbox = inbox;
        _timeProvider = timeProvider;
    }

    /// <summary>Outbox rows this consumer added; sent from memory once the transaction has committed.</summary>
    public List<OutboxMessage> Outgoing { get; } = [];

    public override Guid? MessageId => _inbox.MessageId;

    public override bool ContinueProcessing { get; set; } = true;

    public override bool IsMessageConsumed => _inbox.Consumed.HasValue;

    // Delivery belongs to the delivery service, never to the consume path: a consumer's messages are
    // already durable when its transaction commits.
    public override bool IsOutboxDelivered => true;

    public override int ReceiveCount => _inbox.ReceiveCount;

    public override long? LastSequenceNumber => null;

    // The inbox row is attached unchanged, so marking it consumed is one more UPDATE in the same
    // SaveChanges batch as the consumer's own writes and its outgoing messages.
    public override async Task SetConsumed()
    {
        _inbox.Consumed = _timeProvider.GetUtcNow().UtcDateTime;
        await _dbContext.SaveChangesAsync(CancellationToken);
    }

    public override Task SetDelivered() => Task.CompletedTask;

    public override Task<List<OutboxMessageContext>> LoadOutboxMessages() => Task.FromResult(new List<OutboxMessageContext>());

    public override Task NotifyOutboxMessageDelivered(OutboxMessageContext message) => Task.CompletedTask;

    public override Task RemoveOutboxMessages() => Task.CompletedTask;

    public override Task AddSend<T>(SendContext<T> context)
    {
        var row = OutboxRows.Create(context, _timeProvider, _inbox.MessageId, ConsumerId);
        lock (_gate)
        {
            _dbContext.Set<OutboxMessage>().Add(row);
            Outgoing.Add(row);
        }

        return Task.CompletedTask;
    }
}
