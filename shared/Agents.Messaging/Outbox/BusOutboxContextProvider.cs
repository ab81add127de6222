using MassTransit;
using MassTransit.DependencyInjection;
using Microsoft.EntityFrameworkCore;

namespace Agents.Messaging.Outbox;

/// <summary>
/// Replaces MassTransit's scoped bus context: inside a consumer the consume context is used (its
/// own inbox/outbox applies), anywhere else publish/send go to the bus outbox.
/// </summary>
internal sealed class BusOutboxContextProvider<TDbContext> : IScopedBusContextProvider<IBus>, IDisposable
    where TDbContext : DbContext
{
    public BusOutboxContextProvider(
        IBus bus,
        TDbContext dbContext,
        OutboxDeliveryService<TDbContext> delivery,
        TimeProvider timeProvider,
        Bind<IBus, IClientFactory> clientFactory,
        ScopedConsumeContextProvider consumeContextProvider,
        IServiceProvider provider)
    {
        Context = consumeContextProvider.HasContext
            ? new ConsumeContextScopedBusContext(consumeContextProvider.GetContext(), clientFactory.Value)
            : new BusOutboxContext<TDbContext>(bus, dbContext, delivery, timeProvider, clientFactory.Value, provider);
    }

    public ScopedBusContext Context { get; }

    public void Dispose() => (Context as IDisposable)?.Dispose();
}
