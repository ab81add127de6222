using System.Text.Json;
using Agents.Contracts;
using Agents.ServiceDefaults.Messaging;
using Agents.ToolGateway.Data;
using Agents.ToolGateway.Invocation;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace Agents.ToolGateway.Consumers;

/// <summary>
/// Keeps the registry: upserts the announced tool by name (version, schemas, last seen, instance).
/// An announcement older than the stored one is ignored; an invalid one is faulted with the reason.
/// </summary>
internal sealed class ToolAnnouncedConsumer(ToolGatewayDbContext db, ToolLookup lookup, TimeProvider time, ILogger<ToolAnnouncedConsumer> logger) : IConsumer<ToolAnnounced>
{
    public async Task Consume(ConsumeContext<ToolAnnounced> context)
    {
        var announced = context.Message;
        var problem = Check(announced);
        if (problem is not null)
        {
            throw new PermanentFailureException($"Tool announcement from '{announced.Instance}' rejected: {problem}");
        }

        var descriptor = announced.Tool;
        var tool = await db.Tools.SingleOrDefaultAsync(t => t.Name == descriptor.Name, context.CancellationToken);
        if (tool is null)
        {
            tool = new RegisteredTool
            {
                Name = descriptor.Name,
                Description = descriptor.Description,
                InputSchema = descriptor.InputSchema,
                OutputSchema = descriptor.OutputSchema,
                RequiredScope = descriptor.RequiredScope,
                Version = descriptor.Version,
                Instance = announced.Instance,
                FirstSeenAt = time.GetUtcNow(),
            };
            db.Tools.Add(tool);
        }
        else if (announced.AnnouncedAt < tool.LastSeenAt)
        {
            logger.LogDebug("Ignoring an older announcement of tool {Tool} from {Instance}.", descriptor.Name, announced.Instance);
            return;
        }

        if (tool.Version != descriptor.Version)
        {
            logger.LogInformation("Tool {Tool} changed version {Old} -> {New} ({Instance}).", descriptor.Name, tool.Version, descriptor.Version, announced.Instance);
        }

        tool.Apply(announced);

        // The tool is back (or still there): an open circuit's break ends, so the next call is the trial that decides.
        await ToolRegistry.ResetCircuitAsync(db, context, descriptor.Name, close: false, $"announcement from {announced.Instance}", time.GetUtcNow(), context.CancellationToken);

        // A concurrent first announcement of the same tool loses the insert race; the bus retry then updates.
        await db.SaveChangesAsync(context.CancellationToken);
        lookup.Forget(descriptor.Name);
    }

    private static string? Check(ToolAnnounced announced)
    {
        var tool = announced.Tool;
        if (tool is null)
        {
            return "it carries no tool descriptor.";
        }

        if (!ToolEndpoints.IsValidName(tool.Name))
        {
            return $"the tool name '{tool.Name}' is invalid (lower-case letters, digits, '.', '-', '_', starting with a letter, at most 64 characters).";
        }

        if (string.IsNullOrWhiteSpace(announced.Instance) || announced.Instance.Length > 200)
        {
            return $"tool '{tool.Name}': the instance name must be 1 to 200 characters.";
        }

        if (string.IsNullOrWhiteSpace(tool.Version) || tool.Version.Length > 64)
        {
            return $"tool '{tool.Name}': the version must be 1 to 64 characters.";
        }

        if (tool.RequiredScope is null || tool.RequiredScope.Length > 200)
        {
            return $"tool '{tool.Name}': the required scope must be at most 200 characters.";
        }

        var schemaProblem = ArgumentsValidator.CheckSchema(tool.InputSchema ?? string.Empty);
        if (schemaProblem is not null)
        {
            return $"tool '{tool.Name}': {schemaProblem}";
        }

        try
        {
            using var _ = JsonDocument.Parse(tool.OutputSchema ?? string.Empty);
        }
        catch (JsonException ex)
        {
            return $"tool '{tool.Name}': the output schema is not JSON ({ex.Message}).";
        }

        return null;
    }
}
