using MassTransit;

namespace Agents.Executor.StateMachines;

/// <summary>
/// Endpoint settings of the <c>TaskRun</c> saga: quick retries for concurrent updates of one task, messages
/// released only after the state change and event log are committed.
/// </summary>
public sealed class TaskRunStateDefinition : SagaDefinition<TaskRunState>
{
    protected override void ConfigureSaga(IReceiveEndpointConfigurator endpointConfigurator, ISagaConfigurator<TaskRunState> sagaConfigurator, IRegistrationContext context)
    {
        endpointConfigurator.UseMessageRetry(r => r.Intervals(20, 50, 100, 250, 500, 1000));

        // Until the durable (EF) outbox takes over: hold outgoing messages until the journal is committed.
        endpointConfigurator.UseInMemoryOutbox(context);
        endpointConfigurator.UseConsumeFilter(typeof(TaskJournalFlushFilter<>), context);
    }
}
