using System.Collections.Concurrent;
using Agents.Contracts;

namespace Agents.Executor.StateMachines;

/// <summary>
/// What the executor knows about tools, from their announcements: enough to decide which completed
/// steps need compensation. Tools re-announce every minute, so the catalog refills after a restart.
/// </summary>
public sealed class ToolCatalog
{
    private readonly ConcurrentDictionary<string, ToolDescriptor> _tools = new(StringComparer.Ordinal);

    public void Add(ToolDescriptor tool) => _tools[tool.Name] = tool;

    public ToolDescriptor? Find(string? name) => name is not null && _tools.TryGetValue(name, out var tool) ? tool : null;
}
