using Agents.Contracts;
using Agents.Governance.Decisions;
using MassTransit;

namespace Agents.Governance.Consumers;

/// <summary>Answers <see cref="ReserveModelBudget"/> with <see cref="ModelBudgetReservation"/> (through the outbox, in the transaction of the reservation).</summary>
public sealed class ReserveModelBudgetConsumer(ModelBudgetService budgets) : IConsumer<ReserveModelBudget>
{
    public async Task Consume(ConsumeContext<ReserveModelBudget> context) =>
        await context.RespondAsync(await budgets.ReserveAsync(context.Message, context.CancellationToken));
}
