using System.Text.Json;
using Agents.Planner.Catalog;
using Agents.Planner.Planning;
using Agents.Planner.Templates;
using Agents.ServiceDefaults;
using Agents.ServiceDefaults.Identity;
using Microsoft.Extensions.Options;

namespace Agents.Planner.Api;

/// <summary>
/// <c>/api/templates</c>: list, read and (role <c>admin</c>) store and retire versioned workflow templates, always
/// the caller's tenant's own and the built-in ones (read-only).
/// </summary>
internal static class TemplateApi
{
    public const string AdminRole = "admin";

    public static RouteGroupBuilder MapTemplateApi(this RouteGroupBuilder api)
    {
        var templates = api.MapGroup("/templates");
        templates.MapGet("/", async (HttpContext http, TemplateStore store, CancellationToken cancellationToken) =>
            Results.Ok(await store.ListLatestAsync(http.GetPrincipal().TenantId, cancellationToken)))
            .Produces<IReadOnlyList<TemplateView>>();

        templates.MapGet("/{name}", async (string name, HttpContext http, TemplateStore store, CancellationToken cancellationToken) =>
            await store.GetLatestAsync(http.GetPrincipal().TenantId, name, cancellationToken) is { } template
                ? Results.Ok(template)
                : NotFound(name))
            .Produces<TemplateView>().ProducesProblem(StatusCodes.Status404NotFound);

        templates.MapPut("/{name}", PutAsync).Accepts<TemplateDefinition>("application/json").Produces<TemplateView>()
            .ProducesProblem(StatusCodes.Status403Forbidden).ProducesValidationProblem().ProducesProblem(StatusCodes.Status409Conflict);
        templates.MapDelete("/{name}", RetireAsync).Produces(StatusCodes.Status204NoContent)
            .ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status404NotFound);

        templates.MapGet("/{name}/rollout", async (string name, HttpContext http, TemplateStore store, CancellationToken cancellationToken) =>
            await store.GetRolloutAsync(http.GetPrincipal().TenantId, name, cancellationToken) is { } rollout
                ? Results.Ok(rollout)
                : ApiProblems.NotFound($"Template '{name}' has no rollout in your tenant: its newest version serves every new task."))
            .Produces<TemplateRolloutView>().ProducesProblem(StatusCodes.Status404NotFound);
        templates.MapPut("/{name}/rollout", PutRolloutAsync).Accepts<TemplateRolloutRequest>("application/json").Produces<TemplateRolloutView>()
            .ProducesProblem(StatusCodes.Status403Forbidden).ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        templates.MapDelete("/{name}/rollout", EndRolloutAsync).Produces(StatusCodes.Status204NoContent)
            .ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status404NotFound);
        return api;
    }

    /// <summary>
    /// Sets the rollout of one of the tenant's templates: <c>percent</c> of new tasks plan with <c>candidateVersion</c>,
    /// the others with <c>stableVersion</c> (default: the version serving now). <c>percent</c> 0 is a rollback.
    /// </summary>
    private static async Task<IResult> PutRolloutAsync(string name, TemplateRolloutRequest request, HttpContext http, TemplateStore store, CancellationToken cancellationToken)
    {
        var principal = http.GetPrincipal();
        if (!principal.IsInRole(AdminRole))
        {
            return Forbidden("Rolling out workflow templates");
        }

        var (change, saved, problem) = await store.SetRolloutAsync(principal.TenantId, name, request, $"{principal.TenantId}/{principal.UserId}", cancellationToken);
        return change switch
        {
            TemplateChange.Done => Results.Ok(saved),
            TemplateChange.Invalid => Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid rollout", detail: problem, type: ProblemTypes.Validation),
            TemplateChange.BuiltInReadOnly => BuiltInReadOnly(name),
            TemplateChange.Concurrent => Concurrent(name),
            _ => NotFound(name),
        };
    }

    private static async Task<IResult> EndRolloutAsync(string name, HttpContext http, TemplateStore store, CancellationToken cancellationToken)
    {
        var principal = http.GetPrincipal();
        if (!principal.IsInRole(AdminRole))
        {
            return Forbidden("Ending a template's rollout");
        }

        return await store.EndRolloutAsync(principal.TenantId, name, cancellationToken)
            ? Results.NoContent()
            : ApiProblems.NotFound($"Template '{name}' has no rollout in your tenant.");
    }

    private static async Task<IResult> RetireAsync(string name, HttpContext http, TemplateStore store, CancellationToken cancellationToken)
    {
        var principal = http.GetPrincipal();
        if (!principal.IsInRole(AdminRole))
        {
            return Forbidden("Retiring workflow templates");
        }

        return await store.RetireAsync(principal.TenantId, name, $"{principal.TenantId}/{principal.UserId}", cancellationToken) switch
        {
            TemplateChange.Done => Results.NoContent(),
            TemplateChange.BuiltInReadOnly => BuiltInReadOnly(name),
            TemplateChange.Concurrent => Concurrent(name),
            _ => NotFound(name),
        };
    }

    private static async Task<IResult> PutAsync(
        string name,
        HttpContext http,
        TemplateStore store,
        ToolCatalog catalog,
        IOptions<PlannerOptions> options,
        CancellationToken cancellationToken)
    {
        var principal = http.GetPrincipal();
        if (!principal.IsInRole(AdminRole))
        {
            return Forbidden("Changing workflow templates");
        }

        TemplateDefinition? definition;
        try
        {
            definition = await JsonSerializer.DeserializeAsync<TemplateDefinition>(http.Request.Body, PlannerJson.Options, cancellationToken);
        }
        catch (JsonException ex)
        {
            return Results.Problem(
                statusCode: StatusCodes.Status400BadRequest,
                title: "Malformed JSON",
                detail: $"The body is not valid JSON for a template: {ex.Message}",
                type: ProblemTypes.Validation);
        }

        var errors = TemplateRules.Validate(name, definition, await catalog.LoadAsync(cancellationToken), options.Value.MaxSteps);
        if (errors.Count > 0)
        {
            return Results.Problem(
                statusCode: StatusCodes.Status400BadRequest,
                title: "Invalid template",
                detail: $"Template '{name}' is not valid: {errors[0]}{(errors.Count > 1 ? $" (and {errors.Count - 1} more, see errors)" : "")}",
                type: ProblemTypes.Validation,
                extensions: new Dictionary<string, object?> { ["errors"] = errors });
        }

        var (change, saved) = await store.SaveAsync(principal.TenantId, name, definition!, $"{principal.TenantId}/{principal.UserId}", cancellationToken);
        return change switch
        {
            TemplateChange.Done => Results.Ok(saved),
            TemplateChange.BuiltInReadOnly => BuiltInReadOnly(name),
            _ => Concurrent(name),
        };
    }

    private static IResult Forbidden(string what) => ApiProblems.Forbidden($"{what} needs the '{AdminRole}' role.");

    private static IResult BuiltInReadOnly(string name) => Results.Problem(
        statusCode: StatusCodes.Status409Conflict,
        title: "Built-in template",
        detail: $"'{name}' is a built-in template, which every tenant can run but none can change or retire; store your own under another name.",
        type: ProblemTypes.Conflict);

    private static IResult Concurrent(string name) => Results.Problem(
        statusCode: StatusCodes.Status409Conflict,
        title: "Concurrent change",
        detail: $"Another version of template '{name}' was stored at the same time; read it and try again.",
        type: ProblemTypes.Conflict);

    private static IResult NotFound(string name) =>
        ApiProblems.NotFound($"There is no workflow template '{name}' in your tenant. GET /api/templates lists them.");
}
