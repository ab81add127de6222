using Agents.ServiceDefaults;
using Agents.Contracts;
using Agents.Memory.Data;
using Agents.Memory.Memories;
using Agents.Memory.VectorSearch;
using Agents.ServiceDefaults.Identity;
using Microsoft.Extensions.Options;

namespace Agents.Memory.Api;

/// <summary>
/// The memory HTTP API under <c>/api/memories</c> (reached through the gateway). Tenant and user
/// always come from the verified principal, never from the request: another user's ids answer 404.
/// </summary>
internal static class MemoryApi
{
    /// <summary>Role allowed to write procedures and to mark a source stale for the whole tenant.</summary>
    public const string AdminRole = "admin";

    public static RouteGroupBuilder MapMemoryEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/memories").RequireAgentPrincipal();

        group.MapPost("/", StoreAsync).Accepts<StoreMemoryRequest>("application/json")
            .Produces<MemoryView>(StatusCodes.Status201Created).Produces<MemoryView>().ProducesValidationProblem();
        group.MapGet("/", ListAsync).Produces<IReadOnlyList<MemoryView>>().ProducesValidationProblem();
        group.MapGet("/{id:guid}", GetAsync).Produces<MemoryView>().ProducesProblem(StatusCodes.Status404NotFound);
        group.MapDelete("/{id:guid}", ForgetAsync).Produces(StatusCodes.Status204NoContent).ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPost("/recall", RecallAsync).Accepts<RecallRequest>("application/json").Produces<RecallResponse>().ProducesValidationProblem();
        group.MapDelete("/users/{userId}", ForgetUserAsync).Produces<ForgetUserResponse>().ProducesProblem(StatusCodes.Status403Forbidden);
        group.MapPost("/sources/stale", MarkSourceStaleAsync).Accepts<MarkSourceStaleRequest>("application/json")
            .Produces<MarkSourceStaleResponse>().ProducesValidationProblem();

        group.MapPost("/sessions/{sessionId}/messages", AppendMessageAsync).Accepts<AppendMessageRequest>("application/json")
            .Produces<SessionView>().ProducesValidationProblem();
        group.MapGet("/sessions/{sessionId}", ReadSessionAsync).Produces<SessionView>().ProducesProblem(StatusCodes.Status404NotFound);
        group.MapDelete("/sessions/{sessionId}", ForgetSessionAsync).Produces(StatusCodes.Status204NoContent).ProducesProblem(StatusCodes.Status404NotFound);

        group.MapGet("/procedures/{agent}", ListProceduresAsync).Produces<IReadOnlyList<ProcedureView>>().ProducesValidationProblem();
        group.MapGet("/procedures/{agent}/{name}", GetProcedureAsync).Produces<ProcedureView>().ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPut("/procedures/{agent}/{name}", PutProcedureAsync).Accepts<PutProcedureRequest>("application/json")
            .Produces<ProcedureView>(StatusCodes.Status201Created).ProducesValidationProblem().ProducesProblem(StatusCodes.Status409Conflict);
        return group;
    }

    private static MemoryScope ScopeOf(HttpContext context)
    {
        var principal = context.GetPrincipal();
        return new MemoryScope(principal.TenantId, principal.UserId);
    }

    private static async Task<IResult> StoreAsync(HttpContext context, MemoryStore store, CancellationToken cancellationToken)
    {
        var (body, error) = await ApiResults.ReadBodyAsync<StoreMemoryRequest>(context.Request, cancellationToken);
        if (error is not null)
        {
            return error;
        }

        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(body!.Text) || body.Text.Length > MemoryLimits.MaxTextLength)
        {
            errors["text"] = [$"text is required, at most {MemoryLimits.MaxTextLength} characters."];
        }

        if (string.IsNullOrWhiteSpace(body.Source) || body.Source.Length > MemoryLimits.MaxSourceLength)
        {
            errors["source"] = [$"source is required (where the memory came from: a URL, 'user', a task), at most {MemoryLimits.MaxSourceLength} characters."];
        }

        var kind = body.Kind ?? MemoryKinds.Semantic;
        if (!MemoryKinds.IsKnown(kind))
        {
            errors["kind"] = [$"kind must be '{MemoryKinds.Semantic}' or '{MemoryKinds.Episodic}' (short-term and procedural memory have their own endpoints)."];
        }

        if (body.Trust is { } trust && !Enum.IsDefined(trust))
        {
            errors["trust"] = ["trust must be 'Trusted' or 'Untrusted'."];
        }

        if (body.SourceStepId is { Length: > MemoryLimits.MaxKeyLength })
        {
            errors["sourceStepId"] = [$"sourceStepId must be at most {MemoryLimits.MaxKeyLength} characters."];
        }

        if (body.Id == Guid.Empty)
        {
            errors["id"] = ["id must not be the empty GUID; leave it out to get a new one."];
        }

        if (errors.Count > 0)
        {
            return ApiResults.Validation(errors);
        }

        // Nothing from outside is trusted unless the caller says so explicitly.
        var (memory, created) = await store.StoreAsync(
            ScopeOf(context),
            new NewMemory(body.Id, kind, body.Text!, body.Source!, body.Trust ?? TrustLevel.Untrusted, body.SourceTaskId, body.SourceStepId),
            cancellationToken);
        return created ? Results.Created($"/api/memories/{memory.Id}", memory) : Results.Ok(memory);
    }

    private static async Task<IResult> ListAsync(HttpContext context, MemoryStore store, string? kind, int? limit, int? offset, CancellationToken cancellationToken)
    {
        if (kind is not null && !MemoryKinds.IsKnown(kind))
        {
            return ApiResults.Validation("kind", $"kind must be '{MemoryKinds.Semantic}' or '{MemoryKinds.Episodic}'.");
        }

        if (limit is < 1 or > 500 || offset < 0)
        {
            return ApiResults.Validation("limit", "limit must be between 1 and 500 and offset must not be negative.");
        }

        return Results.Ok(await store.ListAsync(ScopeOf(context), kind, limit ?? 50, offset ?? 0, cancellationToken));
    }

    private static async Task<IResult> GetAsync(HttpContext context, Guid id, MemoryStore store, CancellationToken cancellationToken) =>
        await store.GetAsync(ScopeOf(context), id, cancellationToken) is { } memory
            ? Results.Ok(memory)
            : ApiProblems.NotFound($"You have no memory {id}.");

    private static async Task<IResult> ForgetAsync(HttpContext context, Guid id, MemoryStore store, CancellationToken cancellationToken) =>
        await store.ForgetAsync(ScopeOf(context), id, cancellationToken)
            ? Results.NoContent()
            : ApiProblems.NotFound($"You have no memory {id}.");

    private static async Task<IResult> RecallAsync(HttpContext context, MemoryStore store, IOptions<MemoryOptions> options, CancellationToken cancellationToken)
    {
        var (body, error) = await ApiResults.ReadBodyAsync<RecallRequest>(context.Request, cancellationToken);
        if (error is not null)
        {
            return error;
        }

        var settings = options.Value.Recall;
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(body!.Query) || body.Query.Length > MemoryLimits.MaxQueryLength)
        {
            errors["query"] = [$"query is required, at most {MemoryLimits.MaxQueryLength} characters."];
        }

        if (body.Top is { } top && (top < 1 || top > settings.MaxTop))
        {
            errors["top"] = [$"top must be between 1 and {settings.MaxTop}."];
        }

        if (body.MinRelevance is < -1 or > 1)
        {
            errors["minRelevance"] = ["minRelevance is a cosine similarity between -1 and 1."];
        }

        if (body.Kinds?.FirstOrDefault(k => !MemoryKinds.IsKnown(k)) is { } unknown)
        {
            errors["kinds"] = [$"'{unknown}' is not a searchable kind; use '{MemoryKinds.Semantic}' and/or '{MemoryKinds.Episodic}'."];
        }

        if (errors.Count > 0)
        {
            return ApiResults.Validation(errors);
        }

        var result = await store.RecallAsync(ScopeOf(context), body.Query!, body.Top ?? settings.DefaultTop, body.MinRelevance, body.Kinds, cancellationToken);
        return Results.Ok(new RecallResponse(result.Hits, result.EmbeddingTime.TotalMilliseconds, result.SearchTime.TotalMilliseconds));
    }

    private static async Task<IResult> ForgetUserAsync(HttpContext context, string userId, MemoryStore store, CancellationToken cancellationToken)
    {
        var principal = context.GetPrincipal();
        if (!string.Equals(userId, principal.UserId, StringComparison.Ordinal) && !principal.IsInRole(AdminRole))
        {
            return ApiProblems.Forbidden($"Only the user themselves or a tenant '{AdminRole}' may erase a user's memories.");
        }

        if (userId.Length > MemoryLimits.MaxKeyLength)
        {
            return ApiResults.Validation("userId", $"userId must be at most {MemoryLimits.MaxKeyLength} characters.");
        }

        var deleted = await store.ForgetUserAsync(new MemoryScope(principal.TenantId, userId), cancellationToken);
        return Results.Ok(new ForgetUserResponse(userId, deleted));
    }

    private static async Task<IResult> MarkSourceStaleAsync(HttpContext context, MemoryStore store, CancellationToken cancellationToken)
    {
        var (body, error) = await ApiResults.ReadBodyAsync<MarkSourceStaleRequest>(context.Request, cancellationToken);
        if (error is not null)
        {
            return error;
        }

        if (string.IsNullOrWhiteSpace(body!.Source) || body.Source.Length > MemoryLimits.MaxSourceLength)
        {
            return ApiResults.Validation("source", $"source is required, at most {MemoryLimits.MaxSourceLength} characters.");
        }

        // A tenant admin invalidates the source for everyone in the tenant; anyone else only for themselves.
        var principal = context.GetPrincipal();
        var tenantWide = principal.IsInRole(AdminRole);
        var marked = await store.MarkSourceStaleAsync(principal.TenantId, tenantWide ? null : principal.UserId, body.Source, cancellationToken);
        return Results.Ok(new MarkSourceStaleResponse(body.Source, marked, tenantWide ? "tenant" : "user"));
    }

    private static async Task<IResult> AppendMessageAsync(HttpContext context, string sessionId, ShortTermMemory shortTerm, CancellationToken cancellationToken)
    {
        if (!ApiResults.IsValidKey(sessionId))
        {
            return ApiResults.Validation("sessionId", "sessionId must be 1 to 128 letters, digits, '.', '_', ':' or '-'.");
        }

        var (body, error) = await ApiResults.ReadBodyAsync<AppendMessageRequest>(context.Request, cancellationToken);
        if (error is not null)
        {
            return error;
        }

        var errors = new Dictionary<string, string[]>();
        if (body!.Role is not ("user" or "assistant" or "system" or "tool"))
        {
            errors["role"] = ["role must be 'user', 'assistant', 'system' or 'tool'."];
        }

        if (string.IsNullOrEmpty(body.Content) || body.Content.Length > MemoryLimits.MaxTextLength)
        {
            errors["content"] = [$"content is required, at most {MemoryLimits.MaxTextLength} characters."];
        }

        if (errors.Count > 0)
        {
            return ApiResults.Validation(errors);
        }

        return Results.Ok(await shortTerm.AppendAsync(ScopeOf(context), sessionId, body.Role!, body.Content!, cancellationToken));
    }

    private static async Task<IResult> ReadSessionAsync(HttpContext context, string sessionId, ShortTermMemory shortTerm, CancellationToken cancellationToken) =>
        ApiResults.IsValidKey(sessionId) && await shortTerm.ReadAsync(ScopeOf(context), sessionId, cancellationToken) is { } session
            ? Results.Ok(session)
            : ApiProblems.NotFound($"You have no session '{sessionId}'.");

    private static async Task<IResult> ForgetSessionAsync(HttpContext context, string sessionId, ShortTermMemory shortTerm, CancellationToken cancellationToken) =>
        ApiResults.IsValidKey(sessionId) && await shortTerm.ForgetSessionAsync(ScopeOf(context), sessionId, cancellationToken)
            ? Results.NoContent()
            : ApiProblems.NotFound($"You have no session '{sessionId}'.");

    private static async Task<IResult> ListProceduresAsync(HttpContext context, string agent, ProceduralMemory procedures, CancellationToken cancellationToken) =>
        ApiResults.IsValidKey(agent)
            ? Results.Ok(await procedures.ListAsync(context.GetPrincipal().TenantId, agent, cancellationToken))
            : ApiResults.Validation("agent", "agent must be 1 to 128 letters, digits, '.', '_', ':' or '-'.");

    private static async Task<IResult> GetProcedureAsync(HttpContext context, string agent, string name, int? version, ProceduralMemory procedures, CancellationToken cancellationToken)
    {
        if (!ApiResults.IsValidKey(agent) || !ApiResults.IsValidKey(name))
        {
            return ApiResults.Validation("name", "agent and name must be 1 to 128 letters, digits, '.', '_', ':' or '-'.");
        }

        return await procedures.GetAsync(context.GetPrincipal().TenantId, agent, name, version, cancellationToken) is { } procedure
            ? Results.Ok(procedure)
            : ApiProblems.NotFound(version is null ? $"Agent '{agent}' has no procedure '{name}'." : $"Agent '{agent}' has no version {version} of procedure '{name}'.");
    }

    private static async Task<IResult> PutProcedureAsync(HttpContext context, string agent, string name, ProceduralMemory procedures, CancellationToken cancellationToken)
    {
        var principal = context.GetPrincipal();
        if (!principal.IsInRole(AdminRole))
        {
            return ApiProblems.Forbidden($"Procedures are the tenant's instructions for its agents; writing one needs the '{AdminRole}' role.");
        }

        if (!ApiResults.IsValidKey(agent) || !ApiResults.IsValidKey(name))
        {
            return ApiResults.Validation("name", "agent and name must be 1 to 128 letters, digits, '.', '_', ':' or '-'.");
        }

        var (body, error) = await ApiResults.ReadBodyAsync<PutProcedureRequest>(context.Request, cancellationToken);
        if (error is not null)
        {
            return error;
        }

        if (string.IsNullOrWhiteSpace(body!.Content) || body.Content.Length > MemoryLimits.MaxTextLength)
        {
            return ApiResults.Validation("content", $"content is required, at most {MemoryLimits.MaxTextLength} characters.");
        }

        var write = await procedures.PutAsync(principal.TenantId, agent, name, body.Content, body.ExpectedVersion, principal.UserId, cancellationToken);
        return write.Written is { } written
            ? Results.Created($"/api/memories/procedures/{agent}/{name}?version={written.Version}", written)
            : ApiProblems.Conflict($"Procedure '{name}' of agent '{agent}' is at version {write.CurrentVersion}, not {body.ExpectedVersion}: read it again and retry with expectedVersion {write.CurrentVersion}.");
    }
}
