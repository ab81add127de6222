using Agents.Models;
using Microsoft.Extensions.Options;

namespace Agents.Executor.StateMachines;

/// <summary>
/// The price of the model that runs the executor's model steps (<c>Models:Executor</c>, priced by
/// <c>Models:Prices</c>), so that the saga can reserve a task's cost budget before it dispatches a model step.
/// Null when the model has no price: such calls cost nothing in the accounts and need no reservation.
/// </summary>
public sealed class ModelStepPrice(IServiceProvider services)
{
    public ModelPrice? Current => For(null);

    /// <summary>The price of the model a step runs with: a named model's (<c>Models:Named:{name}</c>), else the executor's.</summary>
    public ModelPrice? For(string? named)
    {
        var prices = services.GetService<ModelPriceTable>();
        var model = named is null
            ? services.GetService<IOptionsMonitor<ModelOptions>>()?.Get(ModelRoles.Executor).EffectiveModel
            : services.GetService<NamedChatClients>()?.ModelIdOf(named);
        return prices is not null && prices.TryGetPrice(model, out var price) ? price : null;
    }
}
