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
        _delayed.ScheduleSend(destinationAddress, scheduledTime, message, new DueTimePipe<T>(pipe, scheduledTime), cancellationToken);

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

/// <summary>
/// Marks a scheduled message with its due time in a header: the outbox stores the header's time as
/// the row's due time and removes it (a send context's transport delay does not survive the outbox's capture).
/// </summary>
internal sealed class DueTimePipe<T>(IPipe<SendContext<T>> inner, DateTime scheduledTime) : IPipe<SendContext<T>>
    where T : class
{
    public const string Header = "Agents-Due-Time";

    public async Task Send(SendContext<T> context)
    {
        await inner.Send(context);
        var due = scheduledTime.Kind == DateTimeKind.Local ? scheduledTime.ToUniversalTime() : DateTime.SpecifyKind(scheduledTime, DateTimeKind.Utc);
        context.Headers.Set(Header, due.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
    }

    public void Probe(ProbeContext context) => inner.Probe(context);
}

