using Agents.Contracts;
using Agents.Governance.Approvals;
using Agents.Governance.Decisions;
using MassTransit;

namespace Agents.Governance.Consumers;

/// <summary>
/// Reconciles the ledger with finished tasks' totals, once per task, and withdraws their pending approvals; taken in
/// batches, one transaction each.
/// </summary>
public sealed class TaskRunFinishedConsumer(UsageRecorder recorder, ApprovalService approvals) : IConsumer<Batch<TaskRunFinished>>
{
    public async Task Consume(ConsumeContext<Batch<TaskRunFinished>> context)
    {
        foreach (var message in context.Message)
        {
            await recorder.FinishAsync(message.Message, context.CancellationToken);
            await approvals.WithdrawPendingAsync(message.Message, context.CancellationToken);
        }
    }
}
