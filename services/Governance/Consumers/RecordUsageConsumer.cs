using Agents.Contracts;
using Agents.Governance.Decisions;
using Agents.ServiceDefaults.Messaging;
using MassTransit;

namespace Agents.Governance.Consumers;

/// <summary>Adds a step's tokens and cost to the ledger, once per message id.</summary>
public sealed class RecordUsageConsumer(UsageRecorder recorder) : IConsumer<RecordUsage>
{
    public Task Consume(ConsumeContext<RecordUsage> context)
    {
        var id = context.MessageId ?? throw new PermanentFailureException($"RecordUsage for task {context.Message.TaskId} has no message id, so it cannot be recorded exactly once.");
        return recorder.RecordAsync($"usage:{id}", context.Message, context.CancellationToken);
    }
}
