using Agents.Contracts;
using Agents.Governance.Audit;
using Agents.ServiceDefaults.Messaging;
using MassTransit;

namespace Agents.Governance.Consumers;

/// <summary>Audits every tool execution the tool-gateway publishes (<see cref="ToolCallCompleted"/>), once per message id.</summary>
public sealed class ToolExecutionAuditConsumer(ToolExecutionAudit audit) : IConsumer<ToolCallCompleted>
{
    public Task Consume(ConsumeContext<ToolCallCompleted> context)
    {
        var id = context.MessageId ?? throw new PermanentFailureException($"ToolCallCompleted for task {context.Message.TaskId} has no message id, so it cannot be audited exactly once.");
        return audit.RecordAsync(context.Message, id, context.CancellationToken);
    }
}
