using Agents.Contracts;
using Agents.Governance.Decisions;
using MassTransit;

namespace Agents.Governance.Consumers;

/// <summary>Answers <see cref="AdmitTask"/> with <see cref="TaskAdmitted"/> or <see cref="TaskRejected"/> (after the decision committed).</summary>
public sealed class AdmitTaskConsumer(AdmissionService admission) : IConsumer<AdmitTask>
{
    public async Task Consume(ConsumeContext<AdmitTask> context)
    {
        var result = await admission.AdmitAsync(context.Message, context.CancellationToken);
        if (result.Admitted is not null)
        {
            await context.RespondAsync(result.Admitted);
        }
        else
        {
            await context.RespondAsync(result.Rejected!);
        }
    }
}
