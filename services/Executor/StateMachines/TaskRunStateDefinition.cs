using MassTransit;

namespace Agents.Executor.StateMachines;

/// <summary>
/// Endpoint settings of the <c>TaskRun</c> saga: quick retries for concurrent updates of one task. The durable
/// inbox/outbox (every endpoint, <c>AddAgentsDurableMessaging</c>) runs each message in one PostgreSQL transaction:
/// the saga row, its event-log entries, the task view and its outgoing and scheduled messages commit together.
/// </summary>
public sealed class TaskRunStateDefinition : SagaDefinition<TaskRunState>
{
    protected override void ConfigureSaga(IReceiveEndpointConfigurator endpointConfigurator, ISagaConfigurator<TaskRunState> sagaConfigurator, IRegistrationContext context) =>
        endpointConfigurator.UseMessageRetry(r => r.Intervals(20, 50, 100, 250, 500, 1000));
}
