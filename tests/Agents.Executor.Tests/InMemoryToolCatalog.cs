using System.Collections.Concurrent;
using Agents.Contracts;
using Agents.Executor.StateMachines;

namespace Agents.Executor.Tests;

/// <summary>
/// The tool catalog kept in memory for state machine unit tests (which run without infrastructure); the
/// database catalog is exercised against PostgreSQL by <c>ToolCatalogTests</c>.
/// </summary>
internal sealed class InMemoryToolCatalog : IToolCatalog
{
    private readonly ConcurrentDictionary<string, (DateTimeOffset AnnouncedAt, CatalogTool Tool)> _tools = new(StringComparer.Ordinal);

    public Task UpsertAsync(ToolAnnounced announced, CancellationToken cancellationToken)
    {
        var tool = new CatalogTool(announced.Tool.Name, announced.Tool.SideEffect, announced.Tool.Compensable);
        _tools.AddOrUpdate(
            tool.Name,
            (announced.AnnouncedAt, tool),
            (_, stored) => stored.AnnouncedAt <= announced.AnnouncedAt ? (announced.AnnouncedAt, tool) : stored);
        return Task.CompletedTask;
    }

    public Task<IReadOnlyDictionary<string, CatalogTool>> FindAsync(IReadOnlyCollection<string> names, CancellationToken cancellationToken)
    {
        IReadOnlyDictionary<string, CatalogTool> found = names.Distinct(StringComparer.Ordinal)
            .Where(_tools.ContainsKey)
            .ToDictionary(n => n, n => _tools[n].Tool, StringComparer.Ordinal);
        return Task.FromResult(found);
    }
}
