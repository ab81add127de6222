using Agents.Contracts;
using Agents.Governance.Decisions;
using MassTransit;

namespace Agents.Governance.Consumers;

/// <summary>Reconciles the ledger with a finished task's totals, once per task.</summary>
public sealed class TaskRunFinishedConsumer(UsageRecorder recorder) : IConsumer<TaskRunFinished>
{
    public Task Consume(ConsumeContext<TaskRunFinished> context) => recorder.FinishAsync(context.Message, context.CancellationToken);
}
