using Agents.Contracts;
using Agents.Governance.Decisions;
using Agents.ServiceDefaults.Messaging;
using MassTransit;

namespace Agents.Governance.Consumers;

/// <summary>Adds steps' tokens and cost to the ledger, once per message id; taken in batches, one transaction each.</summary>
public sealed class RecordUsageConsumer(UsageRecorder recorder) : IConsumer<Batch<RecordUsage>>
{
    public async Task Consume(ConsumeContext<Batch<RecordUsage>> context)
    {
        foreach (var message in context.Message)
        {
            var id = message.MessageId ?? throw new PermanentFailureException($"RecordUsage for task {message.Message.TaskId} has no message id, so it cannot be recorded exactly once.");
            await recorder.RecordAsync($"usage:{id}", message.Message, context.CancellationToken);
        }
    }
}
