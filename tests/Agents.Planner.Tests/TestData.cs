using Agents.Contracts;

namespace Agents.Planner.Tests;

internal static class TestData
{
    public static AgentPrincipal Principal(string tenant, params string[] roles) => new(tenant, "user-1", roles);

    public static CreatePlan Template(AgentPrincipal principal, string name, Dictionary<string, string>? parameters) =>
        new(Guid.NewGuid(), principal, null, name, parameters, null, null, null);

    public static CreatePlan Steps(AgentPrincipal principal, params PlanStep[] steps) =>
        new(Guid.NewGuid(), principal, null, null, new Dictionary<string, string> { ["customerId"] = "C-1001" }, steps, null, null);

    public static CreatePlan Goal(AgentPrincipal principal, string goal, IReadOnlyList<RecalledMemory>? memories = null) =>
        new(Guid.NewGuid(), principal, goal, null, null, null, memories, null);

    public static PlanStep Tool(string id, string tool, string arguments, params string[] dependsOn) =>
        new(id, StepKind.Tool, tool, arguments, null, dependsOn);

    public static PlanStep Model(string id, string prompt, params string[] dependsOn) =>
        new(id, StepKind.Model, null, null, prompt, dependsOn);
}
