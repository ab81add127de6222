using Agents.Messaging.Data;
using MassTransit;
using MassTransit.Scheduling;
using Microsoft.EntityFrameworkCore;

namespace Agents.Messaging.Scheduling;

/// <summary>
/// Schedules by storing the message as an outbox row with a due time (through the current outbox,
/// so it commits with the work that scheduled it); the delivery service sends it when due, also
/// after restarts. Unscheduling deletes the pending row by its token.
/// </summary>
public sealed class DurableScheduleMessageProvider : IScheduleMessageProvider
{
    private readonly DelayedScheduleMessageProvider _delayed;
    private readonly DbContext _dbContext;

    /// <summary>
    /// Creates the provider over an outbox-backed <paramref name="sendEndpointProvider"/> (a consume
    /// context inside the inbox, or the scoped bus outbox) and the DbContext that holds the outbox.
    /// </summary>
    public DurableScheduleMessageProvider(ISendEndpointProvider sendEndpointProvider, DbContext dbContext)
    {
        _delayed = new DelayedScheduleMessageProvider(sendEndpointProvider);
        _dbContext = dbContext;
    }

    /// <inheritdoc />
    public Task<ScheduledMessage<T>> ScheduleSend<T>(Uri destinationAddress, DateTime scheduledTime, T message, IPipe<SendContext<T>> pipe,
        CancellationToken cancellationToken)
        where T : class =>
        _delayed.ScheduleSend(destinationAddress, scheduledTime, message, pipe, cancellationToken);

    /// <inheritdoc />
    public async Task CancelScheduledSend(Guid tokenId, CancellationToken cancellationToken)
    {
        // A row scheduled earlier in this same unit of work is not in the table yet.
        foreach (var entry in _dbContext.ChangeTracker.Entries<OutboxMessage>().Where(e => e.State == EntityState.Added && e.Entity.ScheduleTokenId == tokenId).ToList())
        {
            entry.State = EntityState.Detached;
        }

        await _dbContext.Set<OutboxMessage>()
            .Where(x => x.ScheduleTokenId == tokenId && x.Delivered == null)
            .ExecuteDeleteAsync(cancellationToken);
    }

    /// <inheritdoc />
    public Task CancelScheduledSend(Uri destinationAddress, Guid tokenId, CancellationToken cancellationToken) =>
        CancelScheduledSend(tokenId, cancellationToken);
}
