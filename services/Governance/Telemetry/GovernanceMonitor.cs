using System.Diagnostics.Metrics;
using Agents.Governance.Data;
using Agents.Governance.Decisions;
using Agents.Governance.Policies;
using Agents.ServiceDefaults.Telemetry;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Agents.Governance.Telemetry;

/// <summary>
/// Measures, every <see cref="GovernanceOptions.MetricsInterval"/>, what only the database knows, as gauges of the
/// <c>Agents.Governance</c> meter: approvals waiting for a person and the age of the oldest (per tenant), kill switches
/// that are on (per tenant and tool), and each tenant's model usage today against its daily limit (tokens and cost).
/// A few grouped queries per interval, whatever the load; every replica reports the same values.
/// </summary>
internal sealed class GovernanceMonitor : PeriodicMeasurement
{
    private readonly IServiceScopeFactory _scopes;
    private readonly TimeProvider _time;
    private volatile Snapshot _last = Snapshot.Empty;

    public GovernanceMonitor(IServiceScopeFactory scopes, TimeProvider time, IOptions<GovernanceOptions> options, IMeterFactory meters, ILogger<GovernanceMonitor> logger)
        : base(time, logger)
    {
        _scopes = scopes;
        _time = time;
        Interval = options.Value.MetricsInterval;
        var meter = meters.Create(GovernanceTelemetry.Name);
        meter.CreateObservableGauge("agents.approval.pending", () => _last.Pending, "{approval}", "Approvals waiting for a person, by tenant.");
        meter.CreateObservableGauge("agents.approval.pending.age", () => _last.PendingAge, "s", "How long the oldest approval still waiting has waited, by tenant.");
        meter.CreateObservableGauge("agents.governance.kill_switch", () => _last.KillSwitches, "{switch}", "Kill switches that are on (1), by tenant and tool (* for the whole tenant).");
        meter.CreateObservableGauge("agents.budget.used", () => _last.BudgetUsed, "{unit}", "A tenant's model usage today, by unit (tokens or cost).");
        meter.CreateObservableGauge("agents.budget.limit", () => _last.BudgetLimit, "{unit}", "A tenant's daily limit, by unit (tokens or cost); absent when the policy sets none.");
    }

    protected override TimeSpan Interval { get; }

    protected override string What => "approvals, kill switches and budgets";

    /// <inheritdoc />
    public override async Task MeasureAsync(CancellationToken cancellationToken)
    {
        await using var scope = _scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<GovernanceDbContext>();
        var policies = scope.ServiceProvider.GetRequiredService<PolicyStore>();
        var now = _time.GetUtcNow();
        var pending = await db.Approvals.AsNoTracking()
            .Where(a => a.Status == ApprovalStatus.Pending)
            .GroupBy(a => a.TenantId)
            .Select(g => new { Tenant = g.Key, Count = g.Count(), Oldest = g.Min(a => a.CreatedAt) })
            .ToListAsync(cancellationToken);
        var switches = await db.KillSwitches.AsNoTracking().Where(k => k.Enabled).Select(k => new { k.TenantId, k.Tool }).ToListAsync(cancellationToken);
        var day = Ledger.DayOf(now);
        var usage = await db.DailyUsage.AsNoTracking()
            .Where(u => u.Day == day && u.UserId == DailyUsage.TenantRow)
            .Select(u => new { u.TenantId, u.Tokens, u.Cost })
            .ToListAsync(cancellationToken);

        var used = new List<Measurement<double>>();
        var limits = new List<Measurement<double>>();
        foreach (var row in usage)
        {
            var tenant = new KeyValuePair<string, object?>(GovernanceTelemetry.TenantTag, row.TenantId);
            used.Add(new(row.Tokens, tenant, Unit("tokens")));
            used.Add(new((double)row.Cost, tenant, Unit("cost")));
            var daily = (await policies.GetCurrentAsync(row.TenantId, cancellationToken)).Document.Budgets.PerTenantPerDay;
            if (daily.Tokens is { } tokens)
            {
                limits.Add(new(tokens, tenant, Unit("tokens")));
            }

            if (daily.Cost is { } cost)
            {
                limits.Add(new((double)cost, tenant, Unit("cost")));
            }
        }

        _last = new Snapshot(
            [.. pending.Select(p => new Measurement<long>(p.Count, new KeyValuePair<string, object?>(GovernanceTelemetry.TenantTag, p.Tenant)))],
            [.. pending.Select(p => new Measurement<double>(Math.Max(0, (now - p.Oldest).TotalSeconds), new KeyValuePair<string, object?>(GovernanceTelemetry.TenantTag, p.Tenant)))],
            [.. switches.Select(k => new Measurement<int>(1, new(GovernanceTelemetry.TenantTag, k.TenantId), new(GovernanceTelemetry.ToolTag, k.Tool)))],
            [.. used],
            [.. limits]);
    }

    private static KeyValuePair<string, object?> Unit(string unit) => new("agents.budget.unit", unit);

    private sealed record Snapshot(
        Measurement<long>[] Pending,
        Measurement<double>[] PendingAge,
        Measurement<int>[] KillSwitches,
        Measurement<double>[] BudgetUsed,
        Measurement<double>[] BudgetLimit)
    {
        public static readonly Snapshot Empty = new([], [], [], [], []);
    }
}
