using Agents.Tools.Sdk.Runtime;
using Microsoft.Extensions.Options;

namespace Agents.Tools.Mcp;

/// <summary>
/// Keeps the runtime tool catalog in step with every configured MCP server: lists the server's tools
/// once the host has started, again on <c>notifications/tools/list_changed</c> and after a reconnect,
/// offers each (mapped by <see cref="McpToolMapping"/>, overridden by configuration) and withdraws those
/// the server no longer lists. A server that cannot be reached is tried again every <c>Mcp:ReconnectDelay</c>.
/// </summary>
internal sealed class McpBridge(
    RuntimeToolCatalog catalog,
    IOptions<McpOptions> options,
    IHostApplicationLifetime lifetime,
    ILoggerFactory loggers,
    ILogger<McpBridge> logger) : BackgroundService
{
    private readonly List<McpServerConnection> connections = [];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, lifetime.ApplicationStarted).WaitAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (lifetime.ApplicationStarted.IsCancellationRequested)
        {
            // Started: the bus is up, so tool queues can be connected.
        }

        foreach (var (name, server) in options.Value.Servers)
        {
            connections.Add(new McpServerConnection(name, server, loggers));
        }

        await Task.WhenAll(connections.Select(c => KeepInStepAsync(c, stoppingToken)));
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        foreach (var connection in connections)
        {
            await connection.DisposeAsync();
        }
    }

    private async Task KeepInStepAsync(McpServerConnection connection, CancellationToken stoppingToken)
    {
        var offered = new HashSet<string>(StringComparer.Ordinal);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var session = await connection.ClientAsync(stoppingToken);
                var tools = await connection.ListToolsAsync(session, stoppingToken);
                var now = new HashSet<string>(StringComparer.Ordinal);
                foreach (var tool in tools)
                {
                    var runtime = ToRuntimeTool(connection, tool.ProtocolTool);
                    if (runtime is null)
                    {
                        continue;
                    }

                    await catalog.AddOrUpdateAsync(runtime, stoppingToken);
                    now.Add(runtime.Name);
                }

                foreach (var gone in offered.Except(now))
                {
                    catalog.Remove(gone);
                }

                offered = now;
                logger.LogInformation("MCP server {Server} ({Version}) offers {Count} tool(s): {Tools}.", connection.Name, connection.ServerVersion, now.Count, string.Join(", ", now.Order(StringComparer.Ordinal)));
                await connection.WaitForChangeAsync(session, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                logger.LogWarning(ex, "MCP server {Server} could not be listed; trying again in {Delay}.", connection.Name, options.Value.ReconnectDelay);
                try
                {
                    await Task.Delay(options.Value.ReconnectDelay, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private RuntimeTool? ToRuntimeTool(McpServerConnection connection, ModelContextProtocol.Protocol.Tool tool)
    {
        var settings = connection.Options;
        settings.Tools.TryGetValue(tool.Name, out var configured);
        if (configured is { Enabled: false })
        {
            return null;
        }

        var name = McpToolMapping.PlatformName(connection.Name, tool.Name);
        if (name is null)
        {
            logger.LogWarning("MCP tool {Tool} of server {Server} cannot be named within the registry's rules (at most 64 characters); it is not offered.", tool.Name, connection.Name);
            return null;
        }

        var sideEffect = configured?.SideEffect ?? McpToolMapping.SideEffect(tool.Annotations);
        var description = string.IsNullOrWhiteSpace(tool.Description) ? tool.Title ?? tool.Name : tool.Description;
        return new RuntimeTool
        {
            Name = name,
            Description = $"{description} (MCP server '{connection.Name}', tool '{tool.Name}')",
            InputSchema = McpToolMapping.InputSchema(tool),
            OutputSchema = McpToolMapping.OutputSchema(tool),
            SideEffect = sideEffect,
            Risk = configured?.Risk ?? McpToolMapping.Risk(sideEffect, tool.Annotations),
            Scope = configured?.Scope ?? settings.Scope ?? "mcp." + connection.Name,
            ReturnsUntrustedContent = true,
            Timeout = TimeSpan.FromSeconds(settings.TimeoutSeconds),
            Version = connection.ServerVersion ?? "unknown",
            ExecuteAsync = (input, _, token) => connection.CallAsync(tool.Name, sideEffect, input, token),
        };
    }
}
