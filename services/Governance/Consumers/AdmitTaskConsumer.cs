using Agents.Contracts;
using Agents.Governance.Decisions;
using Agents.ServiceDefaults.Messaging;
using MassTransit;

namespace Agents.Governance.Consumers;

/// <summary>
/// Answers <see cref="AdmitTask"/> with <see cref="TaskAdmitted"/> or <see cref="TaskRejected"/> (through the outbox, in
/// the transaction of the decision); an admitted task whose request holds its planning request
/// (<see cref="AdmitTask.ThenPlan"/>) is passed on to the planner with the admission instead.
/// </summary>
public sealed class AdmitTaskConsumer(AdmissionService admission) : IConsumer<AdmitTask>
{
    public async Task Consume(ConsumeContext<AdmitTask> context)
    {
        var result = await admission.AdmitAsync(context.Message, context.CancellationToken);
        if (result.Admitted is not null && context.Message.ThenPlan is { } plan)
        {
            if (plan.TaskId != context.Message.TaskId)
            {
                throw new PermanentFailureException($"AdmitTask for task {context.Message.TaskId} holds a planning request for another task ({plan.TaskId}).");
            }

            await context.Publish(plan with { Admission = result.Admitted }, context.CancellationToken);
        }
        else if (result.Admitted is not null)
        {
            await context.RespondAsync(result.Admitted);
        }
        else
        {
            await context.RespondAsync(result.Rejected!);
        }
    }
}
