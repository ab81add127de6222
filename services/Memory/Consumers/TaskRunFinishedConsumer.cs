using System.Text;
using Agents.Contracts;
using Agents.Memory.Data;
using Agents.Memory.Memories;
using MassTransit;

namespace Agents.Memory.Consumers;

/// <summary>
/// Writes the episodic memory of a finished task for its user: goal, outcome and result or reason.
/// The memory id is the task id (unique within the user's scope), so a redelivery writes nothing twice.
/// The episode is stored at once without its embedding (one insert in the inbox transaction, no model
/// call on this path); the <see cref="Embeddings.BackgroundEmbedder"/> embeds episodes in batches and
/// makes them recallable shortly after.
/// A result may carry tool output or model text derived from outside content, so an episode with a
/// result is stored as untrusted; one with only the goal and the platform's reason is trusted.
/// </summary>
public sealed class TaskRunFinishedConsumer(MemoryStore store) : IConsumer<Batch<TaskRunFinished>>
{
    private const int ResultExcerptLength = 1500;

    /// <summary>Takes finished tasks in batches: their episodes are inserted in one transaction.</summary>
    public async Task Consume(ConsumeContext<Batch<TaskRunFinished>> context)
    {
        foreach (var item in context.Message)
        {
            var message = item.Message;
            var scope = MemoryLimits.ScopeOf(message.Principal);
            if (message.TaskId == Guid.Empty)
            {
                throw new ServiceDefaults.Messaging.PermanentFailureException("TaskRunFinished.TaskId is empty.");
            }

            var trust = string.IsNullOrWhiteSpace(message.Result) ? TrustLevel.Trusted : TrustLevel.Untrusted;
            await store.StorePendingAsync(
                scope,
                new NewMemory(message.TaskId, MemoryKinds.Episodic, Describe(message), $"task:{message.TaskId:D}", trust, message.TaskId),
                context.CancellationToken);
        }
    }

    public static string Describe(TaskRunFinished message)
    {
        var text = new StringBuilder();
        text.Append("Task ").Append(message.Status.ToString().ToLowerInvariant());
        text.Append(" on ").Append(message.FinishedAt.ToString("yyyy-MM-dd"));
        text.Append(": ").Append(
            !string.IsNullOrWhiteSpace(message.Goal) ? message.Goal.Trim()
            : !string.IsNullOrWhiteSpace(message.Template) ? $"template {message.Template.Trim()}"
            : "(no goal given)");
        if (!string.IsNullOrWhiteSpace(message.Reason))
        {
            text.Append("\nReason: ").Append(message.Reason.Trim());
        }

        if (!string.IsNullOrWhiteSpace(message.Result))
        {
            var result = message.Result.Trim();
            text.Append("\nResult: ").Append(result.Length > ResultExcerptLength ? result[..ResultExcerptLength] + "…" : result);
        }

        text.Append($"\nUsage: {message.Usage.Steps} steps, {message.Usage.ToolCalls} tool calls, {message.Usage.Tokens} tokens.");
        var value = text.ToString();
        return value.Length > MemoryLimits.MaxTextLength ? value[..MemoryLimits.MaxTextLength] : value;
    }
}
