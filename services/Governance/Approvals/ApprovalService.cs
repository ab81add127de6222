using Agents.Contracts;
using Agents.Governance.Audit;
using Agents.Governance.Data;
using Agents.Governance.Policies;
using Agents.Governance.Telemetry;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Agents.Governance.Approvals;

/// <summary>Outcome of a person's decision on an approval.</summary>
public enum DecideOutcome
{
    Decided,
    NotFound,
    NotAnApprover,
    OwnRequest,
    NotPending,
    Expired,
}

/// <summary>
/// Decisions on approvals, by people (API) and by time (sweeper). The state change, its audit entry
/// and <see cref="ApprovalDecided"/> (an outbox row, through the scope's <see cref="IPublishEndpoint"/>)
/// commit in one transaction; the outbox delivers the message after the commit.
/// </summary>
public sealed class ApprovalService(GovernanceDbContext db, PolicyStore policies, AuditLog audit, IPublishEndpoint publisher, TimeProvider time, IOptions<GovernanceOptions> options)
{
    /// <summary>
    /// Withdraws the pending approvals of a task that has ended (inside the caller's transaction, with an audit entry
    /// each): a decision afterwards is refused as not pending (409) instead of approving a call nothing will make.
    /// </summary>
    public async Task WithdrawPendingAsync(TaskRunFinished finished, CancellationToken cancellationToken)
    {
        var pending = await db.Approvals
            .FromSqlInterpolated($"SELECT * FROM approvals WHERE task_id = {finished.TaskId} AND tenant_id = {finished.Principal.TenantId} AND status = 'Pending' FOR UPDATE")
            .ToListAsync(cancellationToken);
        var now = time.GetUtcNow();
        foreach (var approval in pending)
        {
            approval.Status = ApprovalStatus.Withdrawn;
            approval.DecidedAt = now;
            approval.DecidedBy = "system";
            approval.Comment = $"the task ended ({finished.Status}) before a decision";
            GovernanceTelemetry.ApprovalEnded(approval);
            await audit.AppendAsync(
                approval.TenantId,
                "system",
                "approval.withdrawn",
                $"approval/{approval.Id}",
                approval.TaskId,
                ApprovalStatus.Withdrawn,
                approval.Comment,
                new { approval.StepId, approval.Tool, approval.ArgumentsHash, approval.RequestedBy, taskStatus = finished.Status.ToString() },
                cancellationToken);
        }

        await db.SaveChangesAsync(cancellationToken);
    }

    public async Task<(DecideOutcome Outcome, Approval? Approval)> DecideAsync(Guid id, AgentPrincipal principal, bool approve, string? comment, CancellationToken cancellationToken)
    {
        Approval approval;
        await using (var transaction = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            var found = (await db.Approvals
                .FromSqlInterpolated($"SELECT * FROM approvals WHERE id = {id} AND tenant_id = {principal.TenantId} FOR UPDATE")
                .ToListAsync(cancellationToken)).SingleOrDefault();
            if (found is null)
            {
                return (DecideOutcome.NotFound, null);
            }

            approval = found;
            if (!approval.ApproverRoles.Any(principal.IsInRole))
            {
                return (DecideOutcome.NotAnApprover, approval);
            }

            if (approval.RequestedBy == principal.UserId)
            {
                return (DecideOutcome.OwnRequest, approval);
            }

            if (approval.Status != ApprovalStatus.Pending)
            {
                return (DecideOutcome.NotPending, approval);
            }

            var now = time.GetUtcNow();
            if (approval.ExpiresAt <= now)
            {
                return (DecideOutcome.Expired, approval);
            }

            approval.Status = approve ? ApprovalStatus.Approved : ApprovalStatus.Rejected;
            approval.DecidedAt = now;
            approval.DecidedBy = principal.UserId;
            approval.Comment = string.IsNullOrWhiteSpace(comment) ? null : comment.Trim();
            await audit.AppendAsync(
                principal.TenantId,
                principal.UserId,
                "approval.decided",
                $"approval/{approval.Id}",
                approval.TaskId,
                approval.Status,
                approval.Comment,
                new { approval.StepId, approval.Tool, approval.ArgumentsHash, approval.RequestedBy },
                cancellationToken);
            await PublishAsync(approval, cancellationToken);
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }

        return (DecideOutcome.Decided, approval);
    }

    /// <summary>
    /// One sweep: expires (or escalates) due approvals; each expiry's <see cref="ApprovalDecided"/> commits with it.
    /// Rows are claimed with <c>FOR UPDATE SKIP LOCKED</c>, so replicas sweeping at once never handle the same one.
    /// </summary>
    public async Task<int> SweepAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var batch = options.Value.SweepBatchSize;
        var handled = 0;
        await using (var transaction = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            var due = await db.Approvals
                .FromSqlInterpolated($"SELECT * FROM approvals WHERE status = 'Pending' AND expires_at <= {now} ORDER BY expires_at LIMIT {batch} FOR UPDATE SKIP LOCKED")
                .ToListAsync(cancellationToken);
            foreach (var approval in due)
            {
                var policy = (await policies.GetCurrentAsync(approval.TenantId, cancellationToken)).Document;
                if (policy.Approval.OnExpiry == ApprovalPolicy.Escalate && !approval.Escalated && policy.Approval.EscalateTo is { } role)
                {
                    approval.Escalated = true;
                    approval.ApproverRoles = [.. new[] { role, policy.AdminRole }.Distinct(StringComparer.Ordinal)];
                    approval.ExpiresAt = now.AddSeconds(policy.Approval.TimeoutSeconds);
                    await audit.AppendAsync(approval.TenantId, "system", "approval.escalated", $"approval/{approval.Id}", approval.TaskId, ApprovalStatus.Pending, $"not decided in time; escalated to role '{role}'", new { approval.ExpiresAt }, cancellationToken);
                    continue;
                }

                approval.Status = ApprovalStatus.Expired;
                approval.DecidedAt = now;
                approval.DecidedBy = "system";
                await audit.AppendAsync(approval.TenantId, "system", "approval.expired", $"approval/{approval.Id}", approval.TaskId, ApprovalStatus.Expired, "not decided before it expired", new { approval.ExpiresAt }, cancellationToken);
                await PublishAsync(approval, cancellationToken);
            }

            handled = due.Count;
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }

        return handled;
    }

    private Task PublishAsync(Approval approval, CancellationToken cancellationToken)
    {
        GovernanceTelemetry.ApprovalEnded(approval);
        return publisher.Publish(
            new ApprovalDecided(
                approval.Id,
                approval.TaskId,
                approval.StepId,
                approval.Status == ApprovalStatus.Approved,
                approval.DecidedBy ?? "system",
                approval.Comment,
                approval.Status == ApprovalStatus.Expired),
            cancellationToken);
    }
}
