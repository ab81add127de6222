using Microsoft.Extensions.Options;

namespace Agents.Governance.Approvals;

/// <summary>
/// The durable approval timeout: expiry times live in PostgreSQL, and this loop (on every replica)
/// acts on the due ones, so a restart never loses a timeout. Time comes from <see cref="TimeProvider"/>.
/// </summary>
internal sealed partial class ApprovalSweeper(IServiceScopeFactory scopes, TimeProvider time, IOptions<GovernanceOptions> options, ILogger<ApprovalSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                int handled;
                do
                {
                    await using var scope = scopes.CreateAsyncScope();
                    handled = await scope.ServiceProvider.GetRequiredService<ApprovalService>().SweepAsync(stoppingToken);
                }
                while (handled >= options.Value.SweepBatchSize && !stoppingToken.IsCancellationRequested);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogSweepFailed(logger, ex);
            }

            try
            {
                await Task.Delay(options.Value.SweepInterval, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Approval sweep failed; retrying at the next interval.")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);
}
