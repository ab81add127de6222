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
/// A batch consumer's context carries the inbox rows of every message of its batch, marked consumed together.
/// </summary>
internal sealed class InboxOutboxConsumeContext<TDbContext, TMessage> : OutboxConsumeContextProxy<TMessage>
    where TDbContext : DbContext
    where TMessage : class
{
    private readonly TDbContext _dbContext;
    private readonly IReadOnlyList<InboxState> _inbox;
    private readonly TimeProvider _timeProvider;
    private readonly Lock _gate = new();

    public InboxOutboxConsumeContext(ConsumeContext<TMessage> context, OutboxConsumeOptions options, IServiceProvider provider, TDbContext dbContext,
        IReadOnlyList<InboxState> inbox, TimeProvider timeProvider)
        : base(context, options, provider)
    {
        _dbContext = dbContext;
        _inbox = inbox;
        _timeProvider = timeProvider;
    }

    /// <summary>Outbox rows this consumer added; sent from memory once the transaction has committed.</summary>
    public List<OutboxMessage> Outgoing { get; } = [];

    public override Guid? MessageId => _inbox[0].MessageId;

    public override bool ContinueProcessing { get; set; } = true;

    public override bool IsMessageConsumed => _inbox.All(x => x.Consumed.HasValue);

    // Delivery belongs to the delivery service, never to the consume path: a consumer's messages are
    // already durable when its transaction commits.
    public override bool IsOutboxDelivered => true;

    public override int ReceiveCount => _inbox.Max(x => x.ReceiveCount);

    public override long? LastSequenceNumber => null;

    // A row this attempt created is stored consumed already (the mark commits with the consumer's effects or not at
    // all), so this only tells the pipe. A row that existed unconsumed is attached unchanged: its mark is one UPDATE
    // in the unit of work's one SaveChanges batch, not a round trip of its own.
    public override Task SetConsumed()
    {
        var now = _timeProvider.GetUtcNow().UtcDateTime;
        foreach (var inbox in _inbox)
        {
            inbox.Consumed = now;
        }

        return Task.CompletedTask;
    }

    public override Task SetDelivered() => Task.CompletedTask;

    public override Task<List<OutboxMessageContext>> LoadOutboxMessages() => Task.FromResult(new List<OutboxMessageContext>());

    public override Task NotifyOutboxMessageDelivered(OutboxMessageContext message) => Task.CompletedTask;

    public override Task RemoveOutboxMessages() => Task.CompletedTask;

    public override Task AddSend<T>(SendContext<T> context)
    {
        var row = OutboxRows.Create(context, _timeProvider, _inbox[0].MessageId, ConsumerId);
        lock (_gate)
        {
            _dbContext.Set<OutboxMessage>().Add(row);
            Outgoing.Add(row);
        }

        return Task.CompletedTask;
    }
}
