using System.Text.Json;
using Agents.Planner.Catalog;
using Agents.Planner.Planning;
using Agents.Planner.Templates;
using Agents.ServiceDefaults;
using Agents.ServiceDefaults.Identity;
using Microsoft.Extensions.Options;

namespace Agents.Planner.Api;

/// <summary><c>/api/templates</c>: list, read and (role <c>admin</c>) store versioned workflow templates.</summary>
internal static class TemplateApi
{
    public const string AdminRole = "admin";

    public static RouteGroupBuilder MapTemplateApi(this RouteGroupBuilder api)
    {
        var templates = api.MapGroup("/templates");
        templates.MapGet("/", async (TemplateStore store, CancellationToken cancellationToken) =>
            Results.Ok(await store.ListLatestAsync(cancellationToken)));

        templates.MapGet("/{name}", async (string name, TemplateStore store, CancellationToken cancellationToken) =>
            await store.GetLatestAsync(name, cancellationToken) is { } template
                ? Results.Ok(template)
                : NotFound(name));

        templates.MapPut("/{name}", PutAsync).Accepts<TemplateDefinition>("application/json");
        return api;
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
            return Results.Problem(
                statusCode: StatusCodes.Status403Forbidden,
                title: "Forbidden",
                detail: $"Changing workflow templates needs the '{AdminRole}' role.",
                type: ProblemTypes.Forbidden);
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

        var saved = await store.SaveAsync(name, definition!, $"{principal.TenantId}/{principal.UserId}", cancellationToken);
        return saved is null
            ? Results.Problem(
                statusCode: StatusCodes.Status409Conflict,
                title: "Concurrent change",
                detail: $"Another version of template '{name}' was stored at the same time; read it and try again.",
                type: ProblemTypes.Conflict)
            : Results.Ok(saved);
    }

    private static IResult NotFound(string name) => Results.Problem(
        statusCode: StatusCodes.Status404NotFound,
        title: "Template not found",
        detail: $"There is no workflow template '{name}'. GET /api/templates lists them.",
        type: ProblemTypes.NotFound);
}
