using Agents.Executor.Consumers;
using MassTransit;

namespace Agents.Executor.StateMachines;

/// <summary>
/// Addresses of the executor's own queues: the task API sends <c>SubmitTask</c>/<c>CancelTask</c> to its own
/// saga, and the saga sends model steps to its own model worker, so that several executors sharing a broker
/// (environments, test runs with a queue prefix) never pick up each other's work.
/// </summary>
public sealed class ExecutorEndpoints(IEndpointNameFormatter formatter)
{
    /// <summary>With the formatter the bus uses (registered by the host), else MassTransit's default (test harness).</summary>
    public ExecutorEndpoints(IServiceProvider services)
        : this(services.GetService<IEndpointNameFormatter>() ?? DefaultEndpointNameFormatter.Instance)
    {
    }

    public Uri TaskRun { get; } = new("queue:" + formatter.Saga<TaskRunState>());

    public string ModelWorkerQueue { get; } = formatter.Consumer<ModelStepConsumer>();

    public Uri ModelWorker { get; } = new("queue:" + formatter.Consumer<ModelStepConsumer>());
}
