using Agents.Contracts;
using Agents.Models;

namespace Agents.Executor.StateMachines;

/// <summary>
/// Which named models (<c>Models:Named:{name}</c>) a tenant may run steps on, checked where a task names one (the task
/// API, the replay API) and again by the model worker, which runs nothing a tenant may not use. The answer never lists
/// the models configured: one tenant's model is not another's business.
/// </summary>
internal static class NamedModels
{
    /// <summary>Why a step of <paramref name="tenant"/> cannot run on <paramref name="name"/>.</summary>
    public static string Unavailable(string name, string tenant) =>
        $"No model named '{name}' is configured in the executor for tenant '{tenant}' (Models:Named:{name}, and its Tenants list when it has one).";

    /// <summary>The problem with naming <paramref name="name"/> for <paramref name="tenant"/>, or null when it may be used.</summary>
    public static string? Problem(NamedChatClients models, string name, string tenant) =>
        StepRules.ModelNameProblem(name)
        ?? (models.Allows(name, tenant) ? null : Unavailable(name, tenant));
}
