using System.Diagnostics;
using System.Diagnostics.Metrics;
using Agents.Contracts;

namespace Agents.Executor.Telemetry;

/// <summary>The executor's spans (<c>invoke_workflow</c>, following the GenAI conventions) and metrics.</summary>
internal static class ExecutorTelemetry
{
    public const string Name = "Agents.Executor";

    public static readonly ActivitySource Source = new(Name);

    private static readonly Meter Meter = new(Name);

    private static readonly Counter<long> Finished = Meter.CreateCounter<long>("agents.executor.tasks.finished", description: "Task runs that reached a terminal state.");

    private static readonly Counter<double> CostCounter = Meter.CreateCounter<double>("agents.executor.model.cost", description: "Cost of model steps.");

    /// <summary>A span for the task run handling one message.</summary>
    public static Activity? StartRun(Guid taskId, string trigger)
    {
        var activity = Source.StartActivity("invoke_workflow task-run", ActivityKind.Internal);
        activity?.SetTag("gen_ai.operation.name", "invoke_workflow");
        activity?.SetTag("agents.task.id", taskId.ToString());
        activity?.SetTag("agents.task.trigger", trigger);
        return activity;
    }

    /// <summary>A span for dispatching one step.</summary>
    public static Activity? StartStep(Guid taskId, string stepId, StepKind kind, string? tool)
    {
        var activity = Source.StartActivity("invoke_workflow " + stepId, ActivityKind.Producer);
        activity?.SetTag("gen_ai.operation.name", "invoke_workflow");
        activity?.SetTag("agents.task.id", taskId.ToString());
        activity?.SetTag("agents.step.id", stepId);
        activity?.SetTag("agents.step.kind", kind.ToString());
        if (tool is not null)
        {
            activity?.SetTag("gen_ai.tool.name", tool);
        }

        return activity;
    }

    /// <summary>A span for one model step in the model worker.</summary>
    public static Activity? StartModelStep(Guid taskId, string stepId)
    {
        var activity = Source.StartActivity("invoke_workflow model-step", ActivityKind.Consumer);
        activity?.SetTag("gen_ai.operation.name", "invoke_workflow");
        activity?.SetTag("agents.task.id", taskId.ToString());
        activity?.SetTag("agents.step.id", stepId);
        return activity;
    }

    public static void RecordFinished(TaskRunStatus status) =>
        Finished.Add(1, new KeyValuePair<string, object?>("agents.task.status", status.ToString()));

    public static void RecordCost(decimal cost, string? model) =>
        CostCounter.Add((double)cost, new KeyValuePair<string, object?>("gen_ai.request.model", model));
}
