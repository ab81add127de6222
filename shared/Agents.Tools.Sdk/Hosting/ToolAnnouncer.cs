using Agents.Contracts;
using Agents.Tools.Sdk.Runtime;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Agents.Tools.Sdk.Hosting;

/// <summary>Publishes <see cref="ToolAnnounced"/> for every tool of the host at start and every <see cref="ToolHostOptions.AnnounceInterval"/>.</summary>
internal sealed class ToolAnnouncer(
    IServiceProvider services,
    IEnumerable<ToolDefinition> tools,
    ToolConsumerRegistry consumers,
    IOptions<ToolHostOptions> options,
    TimeProvider time,
    IHostApplicationLifetime lifetime,
    ILogger<ToolAnnouncer> logger) : BackgroundService
{
    private static readonly TimeSpan RetryAfterFailure = TimeSpan.FromSeconds(2);

    private readonly SemaphoreSlim announceNow = new(0, 1);

    /// <summary>Makes the announcer announce at once instead of at the end of its interval.</summary>
    public void RequestAnnouncement()
    {
        try
        {
            announceNow.Release();
        }
        catch (SemaphoreFullException)
        {
            // An announcement is already due.
        }
    }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        var missing = tools.Where(t => !consumers.Contains(t.Name)).Select(t => t.Name).ToList();
        if (missing.Count > 0)
        {
            throw new InvalidOperationException(
                $"Tool(s) {string.Join(", ", missing)} have no queue consumer: call builder.AddAgentsTool<T>() before builder.AddAgentsBus(x => x.AddAgentsTools()).");
        }

        if (services.GetService<NpgsqlDataSource>() is null)
        {
            throw new InvalidOperationException("A tool host needs its database for the idempotency ledger: call builder.AddAgentsDatabase().");
        }

        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await WhenStartedAsync(stoppingToken);
        var bus = services.GetRequiredService<IBus>();
        var classTools = tools.Select(t => t.ToDescriptor()).ToList();
        var runtimeTools = services.GetService<RuntimeToolCatalog>();
        var instance = options.Value.Instance ?? $"{Environment.MachineName}:{Environment.ProcessId}";
        while (!stoppingToken.IsCancellationRequested)
        {
            var wait = options.Value.AnnounceInterval;
            var descriptors = runtimeTools is null ? classTools : [.. classTools, .. runtimeTools.Descriptors()];
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                timeout.CancelAfter(TimeSpan.FromSeconds(30));
                foreach (var descriptor in descriptors)
                {
                    await bus.Publish(new ToolAnnounced(descriptor, instance, time.GetUtcNow()), timeout.Token);
                }

                logger.LogDebug("Announced {Count} tool(s) as {Instance}.", descriptors.Count, instance);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Announcing tools failed; retrying in {Delay}.", RetryAfterFailure);
                wait = wait < RetryAfterFailure ? wait : RetryAfterFailure;
            }

            try
            {
                using var interval = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                var next = await Task.WhenAny(Task.Delay(wait, time, interval.Token), announceNow.WaitAsync(interval.Token));
                await interval.CancelAsync();
                stoppingToken.ThrowIfCancellationRequested();
                await next;
            }
            catch (OperationCanceledException)
            {
                if (stoppingToken.IsCancellationRequested)
                {
                    return;
                }
            }
        }
    }

    private async Task WhenStartedAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var onStarted = lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        using var onStopping = stoppingToken.Register(() => started.TrySetCanceled(stoppingToken));
        try
        {
            await started.Task;
        }
        catch (OperationCanceledException)
        {
            // Stopping before start finished: ExecuteAsync's loop sees the token.
        }
    }
}

/// <summary>The tools whose consumers were registered on the bus (checked at start).</summary>
internal sealed class ToolConsumerRegistry
{
    private readonly HashSet<string> names = new(StringComparer.Ordinal);

    public void Add(string name)
    {
        lock (names)
        {
            names.Add(name);
        }
    }

    public bool Contains(string name)
    {
        lock (names)
        {
            return names.Contains(name);
        }
    }
}
