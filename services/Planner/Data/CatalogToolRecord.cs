namespace Agents.Planner.Data;

/// <summary>The planner's own copy of a tool's announcement, used to choose tools and validate plans.</summary>
internal sealed class CatalogToolRecord
{
    public required string Name { get; set; }

    public required string Description { get; set; }

    public required string InputSchema { get; set; }

    public required string OutputSchema { get; set; }

    public required string SideEffect { get; set; }

    public required string Risk { get; set; }

    public required string Version { get; set; }

    public required string Instance { get; set; }

    public DateTimeOffset AnnouncedAt { get; set; }

    public DateTimeOffset ReceivedAt { get; set; }
}
