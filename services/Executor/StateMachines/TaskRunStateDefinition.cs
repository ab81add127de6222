using Agents.Contracts;
using MassTransit;

namespace Agents.Executor.StateMachines;

/// <summary>
/// Endpoint settings of the <c>TaskRun</c> saga. Messages of one task are handled one at a time in this process (a
/// partitioner keyed by the task id, in front of the inbox transaction): a task's answers often arrive together (its
/// plan and its admission, two parallel tool calls), and handled at once they would conflict on the task's row and
/// event log and be rolled back and retried. Quick retries remain for conflicts with another replica. The durable
/// inbox/outbox (every endpoint, <c>AddAgentsDurableMessaging</c>) runs each message in one PostgreSQL transaction:
/// the saga row, its event-log entries, the task view and its outgoing and scheduled messages commit together.
/// </summary>
public sealed class TaskRunStateDefinition : SagaDefinition<TaskRunState>
{
    /// <summary>Partitions (tasks handled at once) of the saga's endpoint.</summary>
    public const int Partitions = 32;

    protected override void ConfigureSaga(IReceiveEndpointConfigurator endpointConfigurator, ISagaConfigurator<TaskRunState> sagaConfigurator, IRegistrationContext context)
    {
        endpointConfigurator.UseMessageRetry(r => r.Intervals(20, 50, 100, 250, 500, 1000));
        var partition = endpointConfigurator.CreatePartitioner(Partitions);
        endpointConfigurator.UsePartitioner<SubmitTask>(partition, x => x.Message.TaskId);
        endpointConfigurator.UsePartitioner<CancelTask>(partition, x => x.Message.TaskId);
        endpointConfigurator.UsePartitioner<TaskAdmitted>(partition, x => x.Message.TaskId);
        endpointConfigurator.UsePartitioner<TaskRejected>(partition, x => x.Message.TaskId);
        endpointConfigurator.UsePartitioner<MemoriesRecalled>(partition, x => x.Message.TaskId);
        endpointConfigurator.UsePartitioner<MemoryRecallTimedOut>(partition, x => x.Message.TaskId);
        endpointConfigurator.UsePartitioner<PlanCreated>(partition, x => x.Message.TaskId);
        endpointConfigurator.UsePartitioner<PlanRejected>(partition, x => x.Message.TaskId);
        endpointConfigurator.UsePartitioner<ToolCallCompleted>(partition, x => x.Message.TaskId);
        endpointConfigurator.UsePartitioner<ModelStepCompleted>(partition, x => x.Message.TaskId);
        endpointConfigurator.UsePartitioner<StepTimedOut>(partition, x => x.Message.TaskId);
        endpointConfigurator.UsePartitioner<ApprovalDecided>(partition, x => x.Message.TaskId);
    }
}
