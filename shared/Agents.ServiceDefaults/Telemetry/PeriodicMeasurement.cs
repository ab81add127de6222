using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Agents.ServiceDefaults.Telemetry;

/// <summary>
/// A background service that measures something for the metrics (a depth, an age, a count the database or the broker
/// knows) every <see cref="Interval"/> (the first time one interval after the start), on the <see cref="TimeProvider"/>'s clock. A failed measurement
/// is logged and the gauges keep their last values until the next one succeeds.
/// </summary>
public abstract class PeriodicMeasurement(TimeProvider time, ILogger logger) : BackgroundService
{
    /// <summary>Time between measurements.</summary>
    protected abstract TimeSpan Interval { get; }

    /// <summary>What is measured (for the log).</summary>
    protected abstract string What { get; }

    /// <summary>Measures once.</summary>
    /// <param name="cancellationToken">Stops the measurement.</param>
    public abstract Task MeasureAsync(CancellationToken cancellationToken);

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The first measurement waits one interval: starting a service (and its first queries) is not slowed by it.
        using var timer = new PeriodicTimer(Interval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await MeasureAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Could not measure {What} for the metrics", What);
            }
        }
    }
}
