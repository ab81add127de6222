using Agents.Messaging.Data;
using MassTransit;
using MassTransit.DependencyInjection;
using MassTransit.Middleware;
using MassTransit.Middleware.Outbox;
using Microsoft.EntityFrameworkCore;

namespace Agents.Messaging.Outbox;

/// <summary>
/// The scoped bus context outside a consumer (an HTTP request, a worker's scope): everything
/// published or sent is added to <typeparamref name="TDbContext"/> as outbox rows and is stored by
/// the scope's own <c>SaveChanges</c>, in the same transaction as its other changes. Rows saved
/// outside an explicit transaction are committed when <c>SaveChanges</c> returns and are handed to
/// the delivery service at once; rows saved inside one are claimed by sequence number when the
/// scope ends, so rows of a rolled-back transaction are never sent.
/// </summary>
internal sealed class BusOutboxContext<TDbContext> : ScopedBusContext, OutboxSendContext, IDisposable
    where TDbContext : DbContext
{
    private readonly IBus _bus;
    private readonly TDbContext _dbContext;
    private readonly OutboxDeliveryService<TDbContext> _delivery;
    private readonly TimeProvider _timeProvider;
    private readonly IServiceProvider _provider;
    private readonly List<OutboxMessage> _pending = [];
    private readonly Lock _gate = new();
    private ISendEndpointProvider? _sendEndpointProvider;
    private IPublishEndpoint? _publishEndpoint;
    private bool _subscribed;
    private readonly List<long> _savedInTransaction = [];

    public BusOutboxContext(IBus bus, TDbContext dbContext, OutboxDeliveryService<TDbContext> delivery, TimeProvider timeProvider, IClientFactory clientFactory, IServiceProvider provider)
    {
        _bus = bus;
        _dbContext = dbContext;
        _delivery = delivery;
        _timeProvider = timeProvider;
        _provider = provider;
        ClientFactory = new MassTransit.Clients.ScopedClientFactory(clientFactory, null!);
    }

    public ISendEndpointProvider SendEndpointProvider => _sendEndpointProvider ??= new OutboxSendEndpointProvider(this, _bus);

    public IPublishEndpoint PublishEndpoint => _publishEndpoint ??= new MassTransit.Transports.PublishEndpoint(new OutboxPublishEndpointProvider(this, _bus));

    public IScopedClientFactory ClientFactory { get; }

    public Task AddSend<T>(SendContext<T> context)
        where T : class
    {
        var row = OutboxRows.Create(context, _timeProvider);
        lock (_gate)
        {
            if (!_subscribed)
            {
                _dbContext.SavedChanges += OnSavedChanges;
                _subscribed = true;
            }

            _pending.Add(row);
            _dbContext.Set<OutboxMessage>().Add(row);
        }

        return Task.CompletedTask;
    }

    public object? GetService(Type serviceType) => _provider.GetService(serviceType);

    public void Dispose()
    {
        if (_subscribed)
        {
            _dbContext.SavedChanges -= OnSavedChanges;
        }

        // Rows saved inside an explicit transaction are committed by now, or rolled back (and then the claim finds nothing).
        if (_savedInTransaction.Count > 0)
        {
            _delivery.ClaimCommitted([.. _savedInTransaction]);
        }
    }

    private void OnSavedChanges(object? sender, SavedChangesEventArgs e)
    {
        List<OutboxMessage> saved;
        lock (_gate)
        {
            if (_pending.Count == 0 || _pending.Exists(r => _dbContext.Entry(r).State is not (EntityState.Unchanged or EntityState.Detached)))
            {
                return;
            }

            saved = [.. _pending];
            _pending.Clear();
        }

        if (_dbContext.Database.CurrentTransaction is null)
        {
            _delivery.Dispatch(saved);
        }
        else
        {
            _savedInTransaction.AddRange(saved.Where(r => r.SequenceNumber > 0).Select(r => r.SequenceNumber));
        }
    }
}
