using System.Collections.Concurrent;
using Agents.Governance.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Agents.Governance.Watchdog;

/// <summary>
/// Every <see cref="GovernanceOptions.WatchdogInterval"/>, runs <see cref="TenantWatchdog"/> for each tenant whose audit
/// chain grew since the last pass (a tenant with no new decisions has nothing new to judge). Runs on every replica:
/// the tenant's chain lock makes a second replica find the alert already raised.
/// </summary>
internal sealed partial class WatchdogService(IServiceScopeFactory scopes, TimeProvider time, IOptions<GovernanceOptions> options, ILogger<WatchdogService> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<string, long> _judged = new(StringComparer.Ordinal);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await PassAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogPassFailed(logger, ex);
            }

            try
            {
                await Task.Delay(options.Value.WatchdogInterval, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task PassAsync(CancellationToken cancellationToken)
    {
        List<AuditHead> heads;
        await using (var scope = scopes.CreateAsyncScope())
        {
            heads = await scope.ServiceProvider.GetRequiredService<GovernanceDbContext>().AuditHeads.AsNoTracking().ToListAsync(cancellationToken);
        }

        foreach (var head in heads)
        {
            if (_judged.TryGetValue(head.TenantId, out var judged) && judged == head.LastSequence)
            {
                continue;
            }

            try
            {
                await using var scope = scopes.CreateAsyncScope();
                var raised = await scope.ServiceProvider.GetRequiredService<TenantWatchdog>().EvaluateAsync(head.TenantId, head.LastSequence, cancellationToken);
                foreach (var alert in raised)
                {
                    LogAlert(logger, head.TenantId, alert.Rule, alert.Subject, alert.Reason, alert.KillSwitchTool);
                }

                // Alerts raised now grow the chain, so the tenant is judged once more next pass (and finds them raised).
                _judged[head.TenantId] = head.LastSequence;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogTenantFailed(logger, head.TenantId, ex);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Watchdog alert for tenant {Tenant}: {Rule} on {Subject}: {Reason} (kill switch turned on: {KillSwitch}).")]
    private static partial void LogAlert(ILogger logger, string tenant, string rule, string subject, string reason, string? killSwitch);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Watchdog could not judge tenant {Tenant}; retrying at the next interval.")]
    private static partial void LogTenantFailed(ILogger logger, string tenant, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Watchdog pass failed; retrying at the next interval.")]
    private static partial void LogPassFailed(ILogger logger, Exception exception);
}
