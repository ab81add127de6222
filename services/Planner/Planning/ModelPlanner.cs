using Agents.Contracts;
using Agents.Models;
using Agents.Models.Deterministic;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace Agents.Planner.Planning;

/// <summary>The outcome of asking the planner model: valid steps, or the errors of the last attempt.</summary>
internal sealed record ModelPlanResult(IReadOnlyList<PlanStep>? Steps, string? Rationale, int Attempts, IReadOnlyList<string> Errors)
{
    public bool Succeeded => Steps is not null;
}

/// <summary>
/// Asks the planner model (keyed <see cref="IChatClient"/> "planner") for a plan with structured output, checks the
/// answer against the plan schema and <see cref="PlanValidator"/>, and on errors asks again with the errors fed back,
/// up to <see cref="PlannerOptions.MaxPlanAttempts"/> calls.
/// </summary>
internal sealed class ModelPlanner(
    [FromKeyedServices(ModelPlanner.ModelKey)] IChatClient chat,
    IOptions<PlannerOptions> options,
    ILogger<ModelPlanner> logger)
{
    /// <summary>The keyed chat client the planner uses.</summary>
    public const string ModelKey = ModelRoles.Planner;

    /// <summary>Selects the deterministic provider's responder (ignored by real providers).</summary>
    public const string ResponderProperty = DeterministicChatClient.ResponderKeyProperty;

    /// <summary>The deterministic responder that answers planning requests.</summary>
    public const string ResponderKey = "agents.planner";

    /// <summary>The structured <see cref="PlanningRequest"/> for the deterministic responder.</summary>
    public const string RequestProperty = "agents.planner.request";

    /// <param name="request">The goal, catalog and parameters.</param>
    /// <param name="memories">Recalled memories to show the model.</param>
    /// <param name="keptSteps">Steps that stay as they are (completed steps of a revision); the model's steps follow them.</param>
    /// <param name="context">What the merged plan is validated against.</param>
    /// <param name="cancellationToken">Cancels the model calls.</param>
    public async Task<ModelPlanResult> PlanAsync(
        PlanningRequest request,
        IReadOnlyList<RecalledMemory> memories,
        IReadOnlyList<PlanStep> keptSteps,
        PlanValidationContext context,
        CancellationToken cancellationToken)
    {
        var maxAttempts = options.Value.MaxPlanAttempts;
        List<ChatMessage> messages =
        [
            new(ChatRole.System, PlanningPrompt.System(request.MaxSteps)),
            new(ChatRole.User, PlanningPrompt.User(request, memories)),
        ];
        var chatOptions = new ChatOptions
        {
            ResponseFormat = ChatResponseFormat.ForJsonSchema(PlanSchema.Element, PlanSchema.Name, "A plan: steps over the tool catalog."),
            Temperature = 0,
            AdditionalProperties = new AdditionalPropertiesDictionary
            {
                [ResponderProperty] = ResponderKey,
                [RequestProperty] = request,
            },
        };

        IReadOnlyList<string> errors = [];
        for (var attempt = 1; attempt <= maxAttempts; attempt++)
        {
            var response = await chat.GetResponseAsync(messages, chatOptions, cancellationToken);
            var text = response.Text;
            var found = new List<string>();
            var draft = PlanSchema.Parse(text, found);
            if (draft is not null)
            {
                var modelSteps = StepDocument.ToPlanSteps(draft.Steps, found);
                var keptIds = keptSteps.Select(s => s.Id).ToHashSet(StringComparer.Ordinal);

                // A model may repeat the completed steps although asked not to: the kept version wins.
                var steps = keptSteps.Concat(modelSteps.Where(s => !keptIds.Contains(s.Id))).ToList();
                if (found.Count == 0)
                {
                    found.AddRange(PlanValidator.Validate(steps, context));
                }

                if (found.Count == 0)
                {
                    return new ModelPlanResult(steps, draft.Rationale, attempt, []);
                }
            }

            errors = found;
            logger.LogInformation("Planner model attempt {Attempt} of {MaxAttempts} gave an invalid plan: {Errors}", attempt, maxAttempts, string.Join(" | ", found));
            messages.Add(new ChatMessage(ChatRole.Assistant, text));
            messages.Add(new ChatMessage(ChatRole.User, PlanningPrompt.Feedback(found)));
        }

        return new ModelPlanResult(null, null, maxAttempts, errors);
    }
}
