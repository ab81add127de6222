using Agents.ServiceDefaults;
using Agents.Governance.Approvals;
using Agents.Governance.Data;
using Agents.Governance.Policies;
using Agents.ServiceDefaults.Identity;
using Microsoft.EntityFrameworkCore;

namespace Agents.Governance.Api;

/// <summary>The body of approve / reject.</summary>
public sealed record DecisionRequest(string? Comment);

/// <summary>
/// An approval as the API shows it. <see cref="TaintedArguments"/> explains the gate: which argument carries untrusted
/// content, of which class, from which sources (a step and its tool, a memory, a plan), its value and what policy decided.
/// </summary>
public sealed record ApprovalView(
    Guid Id, Guid TaskId, string StepId, string Tool, string ArgumentsJson, string ArgumentsHash, bool ArgumentsTainted,
    string RequestedBy, string Reason, IReadOnlyList<string> ApproverRoles, string Status, bool Escalated,
    DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, DateTimeOffset? DecidedAt, string? DecidedBy, string? Comment,
    IReadOnlyList<ApprovalTaint> TaintedArguments)
{
    public static ApprovalView From(Approval a) => new(
        a.Id, a.TaskId, a.StepId, a.Tool, a.ArgumentsJson, a.ArgumentsHash, a.ArgumentsTainted, a.RequestedBy, a.Reason,
        a.ApproverRoles, a.Status, a.Escalated, a.CreatedAt, a.ExpiresAt, a.DecidedAt, a.DecidedBy, a.Comment, a.TaintedArguments);
}

internal static class ApprovalsApi
{
    public static RouteGroupBuilder MapApprovals(this RouteGroupBuilder api)
    {
        api.MapGet("/approvals", ListAsync).Produces<List<ApprovalView>>().ProducesValidationProblem();
        api.MapGet("/approvals/{id:guid}", GetAsync).Produces<ApprovalView>().ProducesProblem(StatusCodes.Status404NotFound);
        api.MapPost("/approvals/{id:guid}/approve", (Guid id, HttpContext http, ApprovalService service, CancellationToken ct) => DecideAsync(id, true, http, service, ct))
            .Accepts<DecisionRequest>("application/json").Produces<ApprovalView>().ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        api.MapPost("/approvals/{id:guid}/reject", (Guid id, HttpContext http, ApprovalService service, CancellationToken ct) => DecideAsync(id, false, http, service, ct))
            .Accepts<DecisionRequest>("application/json").Produces<ApprovalView>().ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        return api;
    }

    private static async Task<IResult> ListAsync(HttpContext http, GovernanceDbContext db, PolicyStore policies, string? status, CancellationToken ct)
    {
        var principal = http.GetPrincipal();
        var policy = (await policies.GetCurrentAsync(principal.TenantId, ct)).Document;
        var deciderRoles = policy.ApprovalRoles;
        if (!deciderRoles.Any(principal.IsInRole))
        {
            return ApiProblems.Forbidden($"Listing approvals needs one of the approver roles: {string.Join(", ", deciderRoles)}.");
        }

        status ??= ApprovalStatus.Pending;
        var known = ApprovalStatus.All.FirstOrDefault(s => string.Equals(s, status, StringComparison.OrdinalIgnoreCase));
        if (known is null)
        {
            return Problems.Validation(
                $"'status' must be one of {string.Join(", ", ApprovalStatus.All)}.",
                new Dictionary<string, string[]> { ["status"] = [$"'{status}' is not an approval status."] });
        }

        status = known;
        var roles = principal.Roles.ToArray();
        var rows = await db.Approvals.AsNoTracking()
            .Where(a => a.TenantId == principal.TenantId && a.Status == status && a.ApproverRoles.Any(r => roles.Contains(r)))
            .OrderBy(a => a.CreatedAt)
            .Take(500)
            .ToListAsync(ct);
        return Results.Ok(rows.Select(ApprovalView.From));
    }

    private static async Task<IResult> GetAsync(Guid id, HttpContext http, GovernanceDbContext db, CancellationToken ct)
    {
        var principal = http.GetPrincipal();
        var approval = await db.Approvals.AsNoTracking().SingleOrDefaultAsync(a => a.Id == id && a.TenantId == principal.TenantId, ct);
        if (approval is null)
        {
            return ApiProblems.NotFound($"Approval {id} does not exist.");
        }

        return approval.RequestedBy == principal.UserId || approval.ApproverRoles.Any(principal.IsInRole)
            ? Results.Ok(ApprovalView.From(approval))
            : ApiProblems.Forbidden($"Approval {id} can be read by its requester and by the roles {string.Join(", ", approval.ApproverRoles)}.");
    }

    private static async Task<IResult> DecideAsync(Guid id, bool approve, HttpContext http, ApprovalService service, CancellationToken ct)
    {
        var principal = http.GetPrincipal();
        DecisionRequest? body = new(null);
        if (http.Request.ContentLength is > 0 || http.Request.Headers.TransferEncoding.Count > 0)
        {
            (body, var problem) = await Problems.ReadJsonAsync<DecisionRequest>(http.Request, ct);
            if (problem is not null)
            {
                return problem;
            }

            if (body!.Comment is { Length: > PolicyApi.MaxReasonLength } comment)
            {
                return Problems.Validation(
                    $"The comment has {comment.Length} characters; at most {PolicyApi.MaxReasonLength} are allowed.",
                    new Dictionary<string, string[]> { ["/comment"] = [$"at most {PolicyApi.MaxReasonLength} characters."] });
            }
        }

        var (outcome, approval) = await service.DecideAsync(id, principal, approve, body!.Comment, ct);
        return outcome switch
        {
            DecideOutcome.Decided => Results.Ok(ApprovalView.From(approval!)),
            DecideOutcome.NotFound => ApiProblems.NotFound($"Approval {id} does not exist."),
            DecideOutcome.NotAnApprover => ApiProblems.Forbidden($"Deciding approval {id} needs one of the roles {string.Join(", ", approval!.ApproverRoles)}."),
            DecideOutcome.OwnRequest => ApiProblems.Forbidden($"Approval {id} was requested by you; another approver must decide it."),
            DecideOutcome.NotPending => ApiProblems.Conflict($"Approval {id} is already {approval!.Status}."),
            _ => ApiProblems.Conflict($"Approval {id} expired at {approval!.ExpiresAt:O}."),
        };
    }
}
