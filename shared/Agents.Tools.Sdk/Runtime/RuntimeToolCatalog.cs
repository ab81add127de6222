using System.Collections.Concurrent;
using System.Text.Json;
using Agents.Contracts;
using Agents.ServiceDefaults.Messaging;
using Agents.Tools.Sdk.Execution;
using Agents.Tools.Sdk.Hosting;
using Json.Schema;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Agents.Tools.Sdk.Runtime;

/// <summary>
/// The host's runtime tools (<see cref="RuntimeTool"/>). Adding one checks it, connects its queue
/// (<see cref="ToolEndpoints.QueueName"/>) on the running bus and announces it at once; updating one
/// (same name) takes effect from the next call. A removed tool keeps its queue, and calls that still
/// arrive for it fail permanently saying it is no longer offered. Register with
/// <c>builder.AddAgentsRuntimeTools()</c>; add tools once the host has started.
/// </summary>
public sealed class RuntimeToolCatalog
{
    private readonly ConcurrentDictionary<string, Entry> tools = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Task> endpoints = new(StringComparer.Ordinal);
    private readonly IServiceProvider services;
    private readonly ToolCallRunner runner;
    private readonly ToolAnnouncer announcer;
    private readonly HashSet<string> classTools;
    private readonly string? queuePrefix;
    private readonly ILoggerFactory loggers;

    internal RuntimeToolCatalog(
        IServiceProvider services,
        ToolCallRunner runner,
        ToolAnnouncer announcer,
        IEnumerable<ToolDefinition> classTools,
        IOptions<BusOptions> bus,
        ILoggerFactory loggers)
    {
        this.services = services;
        this.runner = runner;
        this.announcer = announcer;
        this.classTools = classTools.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        queuePrefix = bus.Value.QueuePrefix;
        this.loggers = loggers;
    }

    /// <summary>The tools offered now.</summary>
    public IReadOnlyList<RuntimeTool> Tools => tools.Values.Select(e => e.Tool).OrderBy(t => t.Name, StringComparer.Ordinal).ToList();

    /// <summary>
    /// Offers <paramref name="tool"/> (or replaces the tool of the same name): its queue is consuming
    /// when this returns, and an announcement is due at once.
    /// </summary>
    /// <exception cref="InvalidOperationException">The definition is not usable, or a class tool of this host has the name.</exception>
    public async Task AddOrUpdateAsync(RuntimeTool tool, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tool);
        if (tool.Problem() is { } problem)
        {
            throw new InvalidOperationException("Runtime tool refused: " + problem);
        }

        if (classTools.Contains(tool.Name))
        {
            throw new InvalidOperationException($"Runtime tool refused: a tool class of this host is already named '{tool.Name}'.");
        }

        var settings = new ToolRunSettings(tool.Name, tool.SideEffect, tool.Timeout, loggers.CreateLogger("Agents.Tools.Runtime." + tool.Name));
        tools[tool.Name] = new Entry(tool, RuntimeSchema.Build(tool.InputSchema), settings);
        await endpoints.GetOrAdd(tool.Name, Connect).WaitAsync(cancellationToken);
        announcer.RequestAnnouncement();
    }

    /// <summary>Stops offering the tool named <paramref name="name"/>; true when it was offered.</summary>
    public bool Remove(string name) => tools.TryRemove(name, out _);

    internal IEnumerable<ToolDescriptor> Descriptors() => Tools.Select(t => t.ToDescriptor());

    private Task Connect(string name)
    {
        var connector = services.GetRequiredService<IReceiveEndpointConnector>();
        var handle = connector.ConnectReceiveEndpoint(ToolEndpoints.QueueName(name, queuePrefix), (_, endpoint) =>
        {
            // Calls are sent to this queue by the tool-gateway; a published ExecuteTool must not reach it.
            endpoint.ConfigureConsumeTopology = false;
            endpoint.Handler<ExecuteTool>(context => ToolCallRunner.AnswerAsync(context, token => InvokeAsync(name, context.Message, token), loggers.CreateLogger<RuntimeToolCatalog>()));
        });
        return handle.Ready;
    }

    private async Task<ToolExecutionResult> InvokeAsync(string name, ExecuteTool request, CancellationToken cancellationToken)
    {
        if (!tools.TryGetValue(name, out var entry))
        {
            return ToolCallRunner.Failure(request, $"Tool '{name}' is no longer offered by this host.", transient: false);
        }

        if (ToolCallRunner.Refusal(entry.Settings, request) is { } refusal)
        {
            return refusal;
        }

        if (request.Compensate)
        {
            return ToolCallRunner.Failure(request, $"Tool '{name}' is not compensable: it declares no way to undo a call.", transient: false);
        }

        using var scope = ToolCallRunner.BeginScope(entry.Settings, request);
        JsonDocument arguments;
        try
        {
            arguments = JsonDocument.Parse(string.IsNullOrWhiteSpace(request.ArgumentsJson) ? "null" : request.ArgumentsJson);
        }
        catch (JsonException ex)
        {
            return ToolCallRunner.Failure(request, $"Invalid arguments for tool '{name}': the arguments are not valid JSON ({ex.Message}).", transient: false);
        }

        using (arguments)
        {
            var input = arguments.RootElement;
            var problems = input.ValueKind == JsonValueKind.Object
                ? RuntimeSchema.Validate(entry.Schema, input)
                : [$"/: expected a JSON object, got {input.ValueKind.ToString().ToLowerInvariant()}."];
            if (problems.Count > 0)
            {
                return ToolCallRunner.Failure(request, $"Invalid arguments for tool '{name}': {string.Join("; ", problems)}", transient: false);
            }

            return await runner.ExecuteAsync(entry.Settings, request, async (context, token) =>
            {
                var output = await entry.Tool.ExecuteAsync(input, context, token);
                return output is null
                    ? throw new InvalidOperationException($"Tool '{name}' returned no output.")
                    : output.ToJsonString();
            }, cancellationToken);
        }
    }

    private sealed record Entry(RuntimeTool Tool, JsonSchema Schema, ToolRunSettings Settings);
}
