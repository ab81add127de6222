using Agents.Contracts;
using Agents.Governance.Decisions;
using Agents.ServiceDefaults.Messaging;
using MassTransit;

namespace Agents.Governance.Consumers;

/// <summary>
/// Decides <see cref="ReserveModelBudget"/> and, in the transaction of the reservation (through the outbox), sends the model
/// step it carries on to the executor's model worker with the answer attached, or answers the requester with
/// <see cref="ModelBudgetReservation"/> when it carries none.
/// </summary>
public sealed class ReserveModelBudgetConsumer(ModelBudgetService budgets) : IConsumer<ReserveModelBudget>
{
    public async Task Consume(ConsumeContext<ReserveModelBudget> context) =>
        await ModelBudgetAnswers.AnswerAsync(context, await budgets.ReserveAsync(context.Message, context.CancellationToken));
}
