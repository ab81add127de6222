using System.Text.Json;
using Agents.Contracts;
using Agents.Governance.Audit;
using Agents.Governance.Data;
using Agents.Governance.Policies;
using Agents.Governance.Telemetry;
using Agents.ServiceDefaults.Messaging;
using Microsoft.EntityFrameworkCore;

namespace Agents.Governance.Decisions;

/// <summary>
/// Decides <see cref="AuthorizeToolCall"/>, deny by default. Everything a decision reads or changes
/// (task ledger, daily ledgers, approval, loop counter, audit entry) is in one transaction: the consumer's
/// inbox transaction, which also stores the response, or the allowed call sent on to its tool, in the outbox.
/// </summary>
public sealed class AuthorizationService(GovernanceDbContext db, PolicyStore policies, Ledger ledger, AuditLog audit, TimeProvider time)
{
    public const string LoopDetected = "loop detected";

    private static readonly JsonSerializerOptions ResponseJson = new(JsonSerializerDefaults.Web);

    /// <summary>
    /// Decides the call. A request seen before (same <see cref="AuthorizeToolCall.RequestKey"/>, else the same
    /// <paramref name="messageId"/>) gets the stored answer and reserves nothing again: the tool-gateway asking again after
    /// no answer came in time, or a redelivery after the inbox's retention window. With <paramref name="sendOn"/> (the
    /// request carries its call and may send it on), a fresh Allow is marked <see cref="ToolCallAuthorization.Forwarded"/>,
    /// stored so, and <c>SendOn</c> is true: the caller sends the call on to its tool in this transaction. A stored answer
    /// is never sent on again.
    /// </summary>
    public async Task<(ToolCallAuthorization Answer, bool SendOn)> AuthorizeAsync(AuthorizeToolCall message, Guid? messageId, bool sendOn, CancellationToken cancellationToken)
    {
        var principal = message.Principal;
        if (principal is null || string.IsNullOrEmpty(principal.TenantId) || string.IsNullOrEmpty(principal.UserId))
        {
            throw new PermanentFailureException($"AuthorizeToolCall for task {message.TaskId} has no principal (tenant and user).");
        }

        InboxTransaction.Require(db, "Authorization");
        var dedupeKey = message.RequestKey is { Length: > 0 and <= 200 } key ? $"authorize:key:{key}" : messageId is { } id ? $"authorize:{id}" : null;
        if (dedupeKey is not null
            && await db.ProcessedMessages.AsNoTracking().SingleOrDefaultAsync(p => p.Key == dedupeKey, cancellationToken) is { Response: { } stored })
        {
            return (JsonSerializer.Deserialize<ToolCallAuthorization>(stored, ResponseJson)!, false);
        }

        var controls = await policies.GetControlsAsync(principal.TenantId, cancellationToken);
        var policy = controls.Policy;
        var untrusted = UntrustedArguments.Decide(message, policy.Document);
        var outcome = await DecideAsync(message, principal, controls, untrusted, cancellationToken);
        var result = sendOn && outcome.Result.Decision == AuthorizationDecision.Allow ? outcome.Result with { Forwarded = true } : outcome.Result;
        var details = new
        {
            stepId = message.StepId,
            argumentsHash = message.ArgumentsHash,
            argumentsTainted = message.ArgumentsTainted,
            taintedArguments = untrusted.Count == 0 ? null : untrusted.Select(u => new { u.Argument, @class = u.Class.ToString(), u.Sources, u.Flagged, decision = u.Decision.ToString() }),
            sendsDataOut = message.SendsDataOut,
            sideEffect = message.SideEffect.ToString(),
            risk = outcome.Risk.ToString(),
            requiredScope = message.RequiredScope,
            approvalId = result.ApprovalId,
            policyVersion = policy.Version,
        };
        if (outcome.BudgetStop)
        {
            await audit.AppendAsync(principal.TenantId, principal.UserId, "budget.stop", $"tool/{message.Tool}", message.TaskId, "Deny", result.Reason, details, cancellationToken);
        }

        if (outcome.ApprovalRequested)
        {
            GovernanceTelemetry.ApprovalRequested(principal.TenantId, message.Tool);
            await audit.AppendAsync(principal.TenantId, principal.UserId, "approval.requested", $"approval/{result.ApprovalId}", message.TaskId, "Pending", result.Reason, details, cancellationToken);
        }

        await audit.AppendAsync(principal.TenantId, principal.UserId, "tool.authorize", $"tool/{message.Tool}", message.TaskId, result.Decision.ToString(), result.Reason, details, cancellationToken);
        if (dedupeKey is not null)
        {
            db.ProcessedMessages.Add(new ProcessedMessage { Key = dedupeKey, ProcessedAt = time.GetUtcNow(), Response = JsonSerializer.Serialize(result, ResponseJson) });
        }

        // Saved by the inbox unit of work's one SaveChanges, in the same round trip as the outgoing message, right before
        // the commit: the day's ledger rows and the audit head locked above are held for one round trip fewer.
        return (result, result.Forwarded);
    }

    private async Task<Outcome> DecideAsync(AuthorizeToolCall m, AgentPrincipal principal, TenantControls controls, IReadOnlyList<TaintedArgumentDecision> untrusted, CancellationToken ct)
    {
        var policy = controls.Policy;
        var document = policy.Document;
        var risk = ToolEndpoints.IsValidName(m.Tool) ? document.EffectiveRisk(m.Tool, m.Risk) : m.Risk;
        Outcome Deny(string reason, bool budget = false) => new(new ToolCallAuthorization(AuthorizationDecision.Deny, reason), risk, budget, false);

        if (!ToolEndpoints.IsValidName(m.Tool))
        {
            return Deny($"invalid request: '{m.Tool}' is not a valid tool name");
        }

        if (m.ArgumentsHash is not { Length: 64 } || !m.ArgumentsHash.All(char.IsAsciiHexDigit))
        {
            return Deny("invalid request: ArgumentsHash must be the SHA-256 of the canonical arguments (64 hex digits)");
        }

        if (!document.Enabled)
        {
            return Deny($"tenant '{principal.TenantId}' is disabled by its policy (version {policy.Version})");
        }

        if (controls.KilledReason(m.Tool) is { } killed)
        {
            return Deny(killed);
        }

        var now = time.GetUtcNow();
        var task = await ledger.LockTaskAsync(m.TaskId, ct);
        if (task is null)
        {
            // Every admission check is repeated below, so a call for a task this service has not seen
            // (admission answered by another replica's lost response, say) gets the policy's per-task limits.
            var limits = document.Budgets.PerTask;
            task = new TaskBudget
            {
                TaskId = m.TaskId,
                TenantId = principal.TenantId,
                UserId = principal.UserId,
                Admitted = true,
                AdmittedAt = now,
                Day = Ledger.DayOf(now),
                MaxSteps = limits.Steps,
                MaxToolCalls = limits.ToolCalls,
                MaxTokens = limits.Tokens,
                MaxCost = limits.Cost,
                MaxWallClockSeconds = limits.WallClockSeconds,
            };
            db.Tasks.Add(task);
        }
        else if (task.TenantId != principal.TenantId || task.UserId != principal.UserId)
        {
            return Deny($"task {m.TaskId} belongs to another principal");
        }
        else if (!task.Admitted)
        {
            return Deny($"task {m.TaskId} was not admitted: {task.RejectionReason}");
        }
        else if (task.FinishedStatus is not null)
        {
            return Deny($"task {m.TaskId} has already finished ({task.FinishedStatus})");
        }

        // Least privilege: the user's roles ∩ what the task allows ∩ the tool's required scope.
        if (!document.RolesAllowTool(principal.Roles, m.Tool))
        {
            return Deny($"none of the user's roles ({string.Join(", ", principal.Roles)}) allows tool '{m.Tool}'");
        }

        if ((m.TaskAllowedTools is not null && !m.TaskAllowedTools.Contains(m.Tool, StringComparer.Ordinal))
            || (task.AllowedTools is not null && !task.AllowedTools.Contains(m.Tool, StringComparer.Ordinal)))
        {
            return Deny($"the task does not allow tool '{m.Tool}'");
        }

        if (!document.RolesGrantScope(principal.Roles, m.RequiredScope ?? string.Empty))
        {
            return Deny($"none of the user's roles grants scope '{m.RequiredScope}' required by tool '{m.Tool}'");
        }

        var wallClock = MinInt(task.MaxWallClockSeconds, document.Budgets.PerTask.WallClockSeconds);
        if (wallClock is { } seconds && now - task.AdmittedAt > TimeSpan.FromSeconds(seconds))
        {
            return Deny($"budget exhausted: task wall clock {seconds}s", budget: true);
        }

        var counter = await db.ToolCallCounts.SingleOrDefaultAsync(c => c.TaskId == m.TaskId && c.Tool == m.Tool && c.ArgumentsHash == m.ArgumentsHash, ct);
        var maxIdentical = document.LoopDetection.MaxIdenticalCalls;

        // A loop is the agent making the same call again from other steps; a step's own retries
        // (tool-gateway backoff, executor attempts, re-invocation after approval) are not one.
        var repeatOfStep = counter is not null && counter.HasStep(m.StepId);
        if (counter is not null && !repeatOfStep && counter.Count >= maxIdentical)
        {
            return Deny($"{LoopDetected}: tool '{m.Tool}' was already called by {counter.Count} steps with the same arguments in this task (limit {maxIdentical})");
        }

        var day = Ledger.DayOf(now);
        var (userDay, tenantDay) = await ledger.LockDailyAsync(principal.TenantId, day, principal.UserId, ct);
        var exhausted = Ledger.TaskExhausted(task, document.Budgets.PerTask)
            ?? Ledger.DailyExhausted($"user '{principal.UserId}' today", userDay, document.Budgets.PerUserPerDay)
            ?? Ledger.DailyExhausted("tenant today", tenantDay, document.Budgets.PerTenantPerDay);
        if (exhausted is not null)
        {
            return Deny(exhausted, budget: true);
        }

        if (untrusted.FirstOrDefault(u => u.Decision == UntrustedFlow.Deny) is { } refused)
        {
            return Deny("untrusted content may not reach this call: " + refused.Why);
        }

        var approvalReasons = ApprovalReasons(m, risk, document, untrusted);
        if (approvalReasons.Count > 0)
        {
            var gate = await CheckApprovalAsync(m, principal, document, string.Join("; ", approvalReasons), untrusted, now, ct);
            if (gate is not null)
            {
                return gate with { Risk = risk };
            }
        }

        // Reserve one tool call from every ledger, under the row locks taken above.
        task.ToolCalls++;
        userDay.ToolCalls++;
        tenantDay.ToolCalls++;
        if (counter is null)
        {
            db.ToolCallCounts.Add(new ToolCallCount { TaskId = m.TaskId, Tool = m.Tool, ArgumentsHash = m.ArgumentsHash, Count = 1, StepIds = m.StepId });
        }
        else if (!repeatOfStep)
        {
            counter.Count++;
            counter.StepIds += "\n" + m.StepId;
        }

        var why = approvalReasons.Count > 0 ? $"approved by a person (approval {m.ApprovalId})" : "allowed by policy";
        return new Outcome(new ToolCallAuthorization(AuthorizationDecision.Allow, why, m.ApprovalId), risk, false, false);
    }

    /// <summary>Null when an approval for these exact arguments was granted; otherwise the decision to return.</summary>
    private async Task<Outcome?> CheckApprovalAsync(
        AuthorizeToolCall m, AgentPrincipal principal, PolicyDocument document, string reason, IReadOnlyList<TaintedArgumentDecision> untrusted, DateTimeOffset now, CancellationToken ct)
    {
        var prefix = "approval required: " + reason;
        if (m.ApprovalId is { } id)
        {
            var approval = await db.Approvals.SingleOrDefaultAsync(a => a.Id == id && a.TenantId == principal.TenantId, ct);
            if (approval is null || approval.TaskId != m.TaskId)
            {
                return Denied($"approval {id} does not exist for this task");
            }

            var sameCall = approval.Tool == m.Tool && approval.StepId == m.StepId
                && string.Equals(approval.ArgumentsHash, m.ArgumentsHash, StringComparison.OrdinalIgnoreCase);
            if (sameCall)
            {
                switch (approval.Status)
                {
                    case ApprovalStatus.Approved:
                        return null;
                    case ApprovalStatus.Pending:
                        return Required(approval.Id, prefix, requested: false);
                    case ApprovalStatus.Rejected:
                        return Denied($"approval {id} was rejected by {approval.DecidedBy}" + (approval.Comment is null ? string.Empty : $": {approval.Comment}"));
                    default:
                        return Denied($"approval {id} expired at {approval.ExpiresAt:O}");
                }
            }

            prefix = $"arguments changed since approval {id}: a new approval is needed; " + prefix;
        }
        else
        {
            var existing = await db.Approvals
                .Where(a => a.TenantId == principal.TenantId && a.TaskId == m.TaskId && a.StepId == m.StepId && a.Tool == m.Tool
                    && a.ArgumentsHash == m.ArgumentsHash && (a.Status == ApprovalStatus.Pending || a.Status == ApprovalStatus.Approved))
                .OrderByDescending(a => a.CreatedAt)
                .FirstOrDefaultAsync(ct);
            if (existing?.Status == ApprovalStatus.Approved)
            {
                return null;
            }

            if (existing is not null)
            {
                return Required(existing.Id, prefix, requested: false);
            }
        }

        var created = new Approval
        {
            Id = Guid.NewGuid(),
            TenantId = principal.TenantId,
            TaskId = m.TaskId,
            StepId = m.StepId,
            Tool = m.Tool,
            ArgumentsHash = m.ArgumentsHash.ToLowerInvariant(),
            ArgumentsJson = m.ArgumentsJson,
            ArgumentsTainted = m.ArgumentsTainted || untrusted.Count > 0,
            TaintedArguments = [.. untrusted.Select(u => new ApprovalTaint(u.Argument, u.Class, u.Sources, u.Value, u.Flagged, u.Decision, u.Why))],
            RequestedBy = principal.UserId,
            Reason = prefix,
            ApproverRoles = [.. document.DeciderRoles],
            Status = ApprovalStatus.Pending,
            CreatedAt = now,
            ExpiresAt = now.AddSeconds(document.Approval.TimeoutSeconds),
        };
        db.Approvals.Add(created);
        return Required(created.Id, prefix, requested: true);

        static Outcome Denied(string reason) => new(new ToolCallAuthorization(AuthorizationDecision.Deny, reason), default, false, false);

        static Outcome Required(Guid approvalId, string reason, bool requested) =>
            new(new ToolCallAuthorization(AuthorizationDecision.RequireApproval, reason, approvalId), default, false, requested);
    }

    /// <summary>
    /// Why this call needs a person: untrusted arguments the policy does not let flow (by default any in a tool that acts
    /// outside; never one that steers it), the Critical tier, then the policy's approval rules.
    /// </summary>
    internal static List<string> ApprovalReasons(AuthorizeToolCall m, RiskTier risk, PolicyDocument document, IReadOnlyList<TaintedArgumentDecision> untrusted)
    {
        var reasons = new List<string>();
        reasons.AddRange(untrusted.Where(u => u.Decision == UntrustedFlow.Approve).Select(u => u.Why));

        if (risk == RiskTier.Critical)
        {
            reasons.Add("the tool's risk tier is Critical");
        }

        JsonElement? arguments = null;
        for (var i = 0; i < document.ApprovalRules.Count; i++)
        {
            var rule = document.ApprovalRules[i];
            if (rule.Tool is not null && !Wildcard.IsMatch(rule.Tool, m.Tool))
            {
                continue;
            }

            if ((rule.SideEffect is { } se && se != m.SideEffect) || (rule.MinRisk is { } min && risk < min))
            {
                continue;
            }

            if (rule.Argument is not null)
            {
                arguments ??= ParseArguments(m.ArgumentsJson);
                if (arguments is null)
                {
                    // Fail closed: a threshold that cannot be evaluated asks a person.
                    reasons.Add($"rule {i} ({rule}): the arguments could not be read");
                    continue;
                }

                if (!ArgumentMatches(arguments.Value, rule))
                {
                    continue;
                }
            }

            reasons.Add($"rule {i} ({rule})");
        }

        return reasons;
    }

    private static JsonElement? ParseArguments(string? json)
    {
        try
        {
            using var document = JsonDocument.Parse(string.IsNullOrWhiteSpace(json) ? "{}" : json);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return null;
        }
    }

    internal static bool ArgumentMatches(JsonElement arguments, ApprovalRule rule)
    {
        var current = arguments;
        foreach (var raw in rule.Argument!.Split('/').Skip(1))
        {
            var token = raw.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            if (current.ValueKind == JsonValueKind.Object && current.TryGetProperty(token, out var next))
            {
                current = next;
            }
            else if (current.ValueKind == JsonValueKind.Array && int.TryParse(token, out var index) && index >= 0 && index < current.GetArrayLength())
            {
                current = current[index];
            }
            else
            {
                return false;
            }
        }

        if (rule.EqualsValue is { } expected)
        {
            return JsonElement.DeepEquals(current, expected);
        }

        decimal value;
        if (current.ValueKind == JsonValueKind.Number && current.TryGetDecimal(out var n))
        {
            value = n;
        }
        else if (current.ValueKind == JsonValueKind.String && decimal.TryParse(current.GetString(), System.Globalization.NumberStyles.Number, System.Globalization.CultureInfo.InvariantCulture, out var parsed))
        {
            value = parsed;
        }
        else
        {
            return false;
        }

        return (rule.GreaterThan is null || value > rule.GreaterThan) && (rule.LessThan is null || value < rule.LessThan);
    }

    private static int? MinInt(int? a, int? b) => a is null ? b : b is null ? a : Math.Min(a.Value, b.Value);

    private sealed record Outcome(ToolCallAuthorization Result, RiskTier Risk, bool BudgetStop, bool ApprovalRequested);
}
