using Agents.Contracts;
using Agents.Governance.Audit;
using Agents.ServiceDefaults.Messaging;
using MassTransit;

namespace Agents.Governance.Consumers;

/// <summary>
/// Audits every tool execution the tool-gateway publishes (<see cref="ToolCallCompleted"/>), once per message id. Taken in
/// batches: the entries of a batch are appended to the chain in one transaction (one lock of each tenant's chain head).
/// </summary>
public sealed class ToolExecutionAuditConsumer(ToolExecutionAudit audit) : IConsumer<Batch<ToolCallCompleted>>
{
    public async Task Consume(ConsumeContext<Batch<ToolCallCompleted>> context)
    {
        foreach (var message in context.Message)
        {
            var id = message.MessageId ?? throw new PermanentFailureException($"ToolCallCompleted for task {message.Message.TaskId} has no message id, so it cannot be audited exactly once.");
            await audit.RecordAsync(message.Message, id, context.CancellationToken);
        }
    }
}
