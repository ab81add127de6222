using Agents.Contracts;
using Agents.Governance.Decisions;
using MassTransit;

namespace Agents.Governance.Consumers;

/// <summary>Answers <see cref="AdmitTask"/> with <see cref="TaskAdmitted"/> or <see cref="TaskRejected"/> (through the outbox, in the transaction of the decision).</summary>
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
