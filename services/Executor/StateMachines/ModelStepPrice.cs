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
    public ModelPrice? Current
    {
        get
        {
            var prices = services.GetService<ModelPriceTable>();
            var model = services.GetService<IOptionsMonitor<ModelOptions>>()?.Get(ModelRoles.Executor).EffectiveModel;
            return prices is not null && prices.TryGetPrice(model, out var price) ? price : null;
        }
    }
}
