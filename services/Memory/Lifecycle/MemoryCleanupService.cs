using Agents.Memory.Memories;
using Microsoft.Extensions.Options;

namespace Agents.Memory.Lifecycle;

/// <summary>Deletes expired memories (and their vectors) and expired short-term messages on a timer driven by <see cref="TimeProvider"/>.</summary>
public sealed class MemoryCleanupService(
    IServiceScopeFactory scopes,
    IOptions<MemoryOptions> options,
    TimeProvider time,
    ILogger<MemoryCleanupService> logger) : BackgroundService
{
    public const int BatchSize = 1000;

    /// <summary>One cleanup pass; returns how many memories and messages were deleted.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var store = scope.ServiceProvider.GetRequiredService<MemoryStore>();
        var deleted = await store.DeleteExpiredAsync(BatchSize, cancellationToken);
        if (deleted > 0)
        {
            logger.LogInformation("Deleted {Count} expired memories and short-term messages.", deleted);
        }

        return deleted;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.CleanupInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await RunOnceAsync(stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // The database may be down for a while; the next tick tries again.
                    logger.LogWarning(ex, "Cleanup of expired memories failed; retrying at the next interval.");
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
