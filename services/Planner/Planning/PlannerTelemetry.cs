using System.Diagnostics;

namespace Agents.Planner.Planning;

/// <summary>The planner's spans: one <c>plan</c> span per plan or revision (GenAI operation "plan").</summary>
internal static class PlannerTelemetry
{
    public const string SourceName = "Agents.Planner";

    public static ActivitySource Source { get; } = new(SourceName);

    public static Activity? StartPlan(Guid taskId, string kind)
    {
        var activity = Source.StartActivity("plan", ActivityKind.Internal);
        activity?.SetTag("gen_ai.operation.name", "plan");
        activity?.SetTag("agents.task.id", taskId.ToString());
        activity?.SetTag("agents.plan.request", kind);
        return activity;
    }
}
