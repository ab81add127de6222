using System.Diagnostics.Metrics;
using Agents.Messaging.Data;
using Agents.ServiceDefaults.Telemetry;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Agents.Messaging.Monitoring;

/// <summary>
/// Measures the service's outbox backlog every <see cref="DurableMessagingOptions.BacklogInterval"/>: rows committed
/// and due but not yet handed to the broker (<see cref="MessagingMetrics.OutboxBacklogName"/>) and how long the oldest
/// of them has waited (<see cref="MessagingMetrics.OutboxAgeName"/>). Rows scheduled for later are not backlog. One
/// query per interval, whatever the message rate; the gauges report the last measurement.
/// </summary>
internal sealed class OutboxBacklogMonitor<TDbContext> : PeriodicMeasurement
    where TDbContext : DbContext
{
    private readonly IServiceScopeFactory _scopes;
    private readonly TimeProvider _time;
    private long _backlog;
    private double _ageSeconds;

    public OutboxBacklogMonitor(IServiceScopeFactory scopes, TimeProvider time, IOptions<DurableMessagingOptions> options, IMeterFactory meters, ILogger<OutboxBacklogMonitor<TDbContext>> logger)
        : base(time, logger)
    {
        _scopes = scopes;
        _time = time;
        Interval = options.Value.BacklogInterval;
        var meter = meters.Create(MessagingMetrics.MeterName);
        meter.CreateObservableGauge(MessagingMetrics.OutboxBacklogName, () => Volatile.Read(ref _backlog), "{message}", "Outbox rows due and not yet handed to the broker.");
        meter.CreateObservableGauge(MessagingMetrics.OutboxAgeName, () => Volatile.Read(ref _ageSeconds), "s", "How long the oldest due outbox row has waited for the broker.");
    }

    protected override TimeSpan Interval { get; }

    protected override string What => "the outbox backlog";

    /// <inheritdoc />
    public override async Task MeasureAsync(CancellationToken cancellationToken)
    {
        await using var scope = _scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TDbContext>();
        var now = _time.GetUtcNow().UtcDateTime;
        var due = db.Set<OutboxMessage>().Where(x => x.Delivered == null && (x.DueTime == null || x.DueTime <= now));
        var backlog = await due.LongCountAsync(cancellationToken);
        var oldest = backlog == 0 ? null : await due.MinAsync(x => (DateTime?)(x.DueTime ?? x.Created), cancellationToken);
        Volatile.Write(ref _backlog, backlog);
        Volatile.Write(ref _ageSeconds, oldest is { } o ? Math.Max(0, (now - o).TotalSeconds) : 0);
    }
}
