using Agents.Contracts;
using Agents.Planner.Planning;
using Agents.ServiceDefaults.Messaging;
using MassTransit;

namespace Agents.Planner.Consumers;

/// <summary>
/// Answers <see cref="CreatePlan"/> with <see cref="PlanCreated"/> (a validated, stored plan) or <see cref="PlanRejected"/>,
/// carrying the request's admission back when governance passed it on.
/// </summary>
internal sealed class CreatePlanConsumer(PlanningService planning) : IConsumer<CreatePlan>
{
    public async Task Consume(ConsumeContext<CreatePlan> context)
    {
        var message = context.Message;
        if (message.TaskId == Guid.Empty || message.Principal is null || string.IsNullOrWhiteSpace(message.Principal.TenantId))
        {
            throw new PermanentFailureException("CreatePlan needs a TaskId and a Principal with a TenantId.");
        }

        var outcome = await planning.CreateAsync(message, context.CancellationToken);
        await RespondAsync(context, message.TaskId, outcome, message.Admission);
    }

    internal static Task RespondAsync<T>(ConsumeContext<T> context, Guid taskId, PlanOutcome outcome, TaskAdmitted? admission = null)
        where T : class =>
        outcome.Plan is { } plan
            ? context.RespondAsync(new PlanCreated(taskId, plan, admission))
            : context.RespondAsync(new PlanRejected(taskId, outcome.Reason!, outcome.Errors, admission));
}
