using Agents.Contracts;
using MassTransit;

namespace Agents.ServiceDefaults.Messaging;

/// <summary>How an answer to <see cref="ReserveModelBudget"/> reaches the model step it is for.</summary>
public static class ModelBudgetAnswers
{
    /// <summary>
    /// Sends the request's model step on to its worker with <paramref name="answer"/> attached
    /// (<see cref="ReserveModelBudget.ThenRun"/>), or answers the requester when the request holds no step. Inside an inbox
    /// consumer both go through the outbox, in the transaction of the decision.
    /// </summary>
    public static async Task AnswerAsync(ConsumeContext<ReserveModelBudget> context, ModelBudgetReservation answer)
    {
        var request = context.Message;
        if (request.ThenRun is not { } step)
        {
            await context.RespondAsync(answer);
            return;
        }

        if (request.ThenRunAt is null || step.TaskId != request.TaskId || step.StepId != request.Call.StepId || step.Attempt != request.Call.Attempt)
        {
            throw new PermanentFailureException(
                $"ReserveModelBudget for task {request.TaskId}, step '{request.Call.StepId}' attempt {request.Call.Attempt} holds a model step for another call, or no address to send it to.");
        }

        var worker = await context.GetSendEndpoint(request.ThenRunAt);
        await worker.Send(step with { Reservation = answer }, context.CancellationToken);
    }
}
