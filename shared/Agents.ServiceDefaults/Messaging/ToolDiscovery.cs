using Agents.Contracts;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Agents.ServiceDefaults.Messaging;

/// <summary>
/// For services that keep a catalog of tools from <see cref="ToolAnnounced"/>: once this service's bus
/// is connected (so its own queue is bound and will receive the answers), ask every tool service to
/// announce itself again. Without it, a tool that started first stays unknown until its next
/// periodic announcement.
/// </summary>
public static class ToolDiscovery
{
    /// <summary>Registers the request, published once after start.</summary>
    public static IServiceCollection AddToolDiscovery(this IServiceCollection services) =>
        services.AddHostedService<ToolDiscoveryRequester>();
}

internal sealed class ToolDiscoveryRequester(
    IBusControl bus,
    IHostEnvironment environment,
    TimeProvider time,
    ILogger<ToolDiscoveryRequester> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await bus.WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromMinutes(5));
                await bus.Publish(new RequestToolAnnouncements(environment.ApplicationName, time.GetUtcNow()), stoppingToken);
                return;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Asking tool services to announce themselves failed; retrying.");
                await Task.Delay(TimeSpan.FromSeconds(2), time, stoppingToken);
            }
        }
    }
}
