using Agents.Contracts;
using Agents.Planner.Planning;
using Agents.ServiceDefaults.Messaging;
using MassTransit;

namespace Agents.Planner.Consumers;

/// <summary>
/// Answers <see cref="RevisePlan"/> with a new version of the same plan (<see cref="PlanCreated"/>) or
/// <see cref="PlanRejected"/> (revision limit reached, no valid revision).
/// </summary>
internal sealed class RevisePlanConsumer(PlanningService planning) : IConsumer<RevisePlan>
{
    public async Task Consume(ConsumeContext<RevisePlan> context)
    {
        var message = context.Message;
        if (message.TaskId == Guid.Empty || message.PlanId == Guid.Empty || message.Principal is null
            || string.IsNullOrWhiteSpace(message.Principal.TenantId) || string.IsNullOrWhiteSpace(message.FailedStepId))
        {
            throw new PermanentFailureException("RevisePlan needs a TaskId, a PlanId, a FailedStepId and a Principal with a TenantId.");
        }

        var outcome = await planning.ReviseAsync(message, context.CancellationToken);
        await CreatePlanConsumer.RespondAsync(context, message.TaskId, outcome);
    }
}
