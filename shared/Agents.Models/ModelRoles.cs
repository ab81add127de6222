namespace Agents.Models;

/// <summary>
/// The roles a model plays in the platform. Each role has its own settings
/// (<c>Models:Planner</c>, <c>Models:Executor</c>) and its own keyed <see cref="Microsoft.Extensions.AI.IChatClient"/>:
/// <c>[FromKeyedServices(ModelRoles.Planner)] IChatClient planner</c>.
/// </summary>
public static class ModelRoles
{
    /// <summary>The planner's model: turns goals into plans; usually the stronger model.</summary>
    public const string Planner = "planner";

    /// <summary>The executor's model: runs bounded model steps; usually the cheaper model.</summary>
    public const string Executor = "executor";

    /// <summary>Every role, in the order they are registered.</summary>
    public static IReadOnlyList<string> All { get; } = [Planner, Executor];

    /// <summary>The configuration section of a role, e.g. <c>Models:Planner</c>.</summary>
    public static string SectionOf(string role) => role switch
    {
        Planner => ModelOptions.SectionPrefix + ":Planner",
        Executor => ModelOptions.SectionPrefix + ":Executor",
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, $"Unknown model role '{role}'. Known roles: {string.Join(", ", All)}."),
    };
}
