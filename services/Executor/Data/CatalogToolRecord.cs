namespace Agents.Executor.Data;

/// <summary>
/// What the executor keeps of a tool's announcement (table <c>tool_catalog</c>): enough to decide whether a
/// completed step must be compensated. Shared by every replica and kept across restarts.
/// </summary>
public sealed class CatalogToolRecord
{
    public string Name { get; set; } = string.Empty;

    public Contracts.SideEffectClass SideEffect { get; set; }

    public bool Compensable { get; set; }

    public string Version { get; set; } = string.Empty;

    public DateTimeOffset AnnouncedAt { get; set; }

    public DateTimeOffset ReceivedAt { get; set; }
}
