using System.Text.Json;
using Agents.Models.Deterministic;

namespace Agents.Planner.Planning;

/// <summary>
/// The deterministic (offline) model's answer to planning requests: <see cref="KeywordPlanner"/>, which is not
/// intelligent. It reads the structured <see cref="PlanningRequest"/> the planner passes with the call.
/// </summary>
internal sealed class PlanningResponder : IDeterministicResponder
{
    public string Key => ModelPlanner.ResponderKey;

    public string Respond(DeterministicRequest request) =>
        request.GetProperty(ModelPlanner.RequestProperty) is PlanningRequest planning
            ? JsonSerializer.Serialize(KeywordPlanner.Plan(planning), PlannerJson.Options)
            : throw new InvalidOperationException(
                $"The planning responder needs a {nameof(PlanningRequest)} in ChatOptions.AdditionalProperties['{ModelPlanner.RequestProperty}'].");
}
