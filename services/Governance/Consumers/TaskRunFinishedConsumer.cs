using Agents.Contracts;
using Agents.Governance.Approvals;
using Agents.Governance.Decisions;
using MassTransit;

namespace Agents.Governance.Consumers;

/// <summary>Reconciles the ledger with a finished task's totals, once per task, and withdraws its pending approvals.</summary>
public sealed class TaskRunFinishedConsumer(UsageRecorder recorder, ApprovalService approvals) : IConsumer<TaskRunFinished>
{
    public async Task Consume(ConsumeContext<TaskRunFinished> context)
    {
        await recorder.FinishAsync(context.Message, context.CancellationToken);
        await approvals.WithdrawPendingAsync(context.Message, context.CancellationToken);
    }
}
