using System.Globalization;
using Agents.Contracts;
using Agents.Governance.Audit;
using Agents.Governance.Data;
using Agents.Governance.Decisions;
using Agents.Governance.Policies;
using Agents.Governance.Telemetry;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Agents.Governance.Watchdog;

/// <summary>One anomaly found in a tenant's recent decisions.</summary>
public sealed record WatchdogFinding(string Rule, string Subject, string Reason, Guid? TaskId, string? KillSwitchTool, object Details);

/// <summary>
/// Judges one tenant's recent decisions and tool executions against its policy's <see cref="WatchdogPolicy"/> and raises each anomaly once:
/// a <c>watchdog.alert</c> audit entry, a <see cref="WatchdogAlert"/> event through the outbox and, where the policy says
/// so, the kill switch turned on with a <c>watchdog.kill-switch</c> entry, all in one transaction. Reads only indexed,
/// bounded ranges (the tenant's last audit entries by sequence, its tasks of the last two UTC days); nothing here runs
/// on a decision's path.
/// </summary>
public sealed class TenantWatchdog(GovernanceDbContext db, PolicyStore policies, AuditLog audit, IPublishEndpoint publisher, TimeProvider time, IOptions<GovernanceOptions> options)
{
    public const string Actor = "watchdog";
    public const string AlertAction = "watchdog.alert";
    public const string KillSwitchAction = "watchdog.kill-switch";
    public const string DenialSpike = "denial-spike";
    public const string TaskCost = "task-cost";
    public const string ToolFailure = "tool-failure";
    public const string ApprovalRejections = "approval-rejections";

    /// <summary>At most this many of a tenant's latest audit entries are read per pass (a bounded primary-key range).</summary>
    internal const int MaxEntriesScanned = 5000;

    /// <summary>At most this many of a tenant's recently finished tasks form the cost baseline.</summary>
    internal const int MaxTasksScanned = 500;

    private sealed record Recent(string Action, string Subject, string? Decision, string? Reason, Guid? TaskId);

    /// <summary>Evaluates the tenant and raises what it finds; returns the alerts raised.</summary>
    public async Task<IReadOnlyList<WatchdogFinding>> EvaluateAsync(string tenantId, long lastSequence, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var rules = (await policies.GetCurrentAsync(tenantId, cancellationToken)).Document.Watchdog ?? WatchdogPolicy.Default;
        var recent = await RecentAsync(tenantId, lastSequence, now - options.Value.WatchdogWindow, cancellationToken);

        var findings = new List<WatchdogFinding>();
        findings.AddRange(DenialSpikes(recent, rules.DenialSpike));
        findings.AddRange(ToolFailures(recent, rules.ToolFailure));
        findings.AddRange(await ExpensiveTasksAsync(tenantId, now, rules.TaskCost, cancellationToken));
        findings.AddRange(await RejectedApprovalsAsync(tenantId, recent, rules.ApprovalRejection, cancellationToken));

        var raised = new List<WatchdogFinding>();
        foreach (var finding in findings)
        {
            if (await RaiseAsync(tenantId, finding, now, cancellationToken))
            {
                raised.Add(finding);
            }
        }

        return raised;
    }

    private Task<List<Recent>> RecentAsync(string tenantId, long lastSequence, DateTimeOffset since, CancellationToken cancellationToken) =>
        db.Audit.AsNoTracking()
            .Where(e => e.TenantId == tenantId && e.Sequence > lastSequence - MaxEntriesScanned && e.Time >= since)
            .Select(e => new Recent(e.Action, e.Subject, e.Decision, e.Reason, e.TaskId))
            .ToListAsync(cancellationToken);

    private static IEnumerable<WatchdogFinding> DenialSpikes(List<Recent> recent, DenialSpikeRule rule)
    {
        // Calls refused by a kill switch are the intended effect of one, not a new anomaly.
        var decisions = recent.Where(e => e.Action == "tool.authorize" && !(e.Reason ?? string.Empty).Contains("kill switch", StringComparison.Ordinal));
        foreach (var tool in decisions.GroupBy(e => e.Subject, StringComparer.Ordinal))
        {
            var total = tool.Count();
            var denied = tool.Count(e => e.Decision == nameof(AuthorizationDecision.Deny));
            var share = (decimal)denied / total;
            if (denied < rule.MinDenied || share < rule.MinShare)
            {
                continue;
            }

            var loops = tool.Count(e => e.Decision == nameof(AuthorizationDecision.Deny) && (e.Reason ?? string.Empty).Contains(AuthorizationService.LoopDetected, StringComparison.Ordinal));
            var toolName = tool.Key["tool/".Length..];
            var killSwitch = SwitchFor(rule.KillSwitch, toolName);
            var reason = string.Create(
                CultureInfo.InvariantCulture,
                $"{denied} of {total} authorizations of tool '{toolName}' denied in the window ({share * 100:0}%; {loops} by the loop detector); threshold {rule.MinDenied} and {rule.MinShare * 100:0}%");
            yield return new WatchdogFinding(DenialSpike, tool.Key, reason, null, killSwitch, new { tool = toolName, denied, total, loops, rule.MinDenied, rule.MinShare });
        }
    }

    private static IEnumerable<WatchdogFinding> ToolFailures(List<Recent> recent, ToolFailureRule rule)
    {
        string[] failed = ["tool.failed", "tool.timed-out"];
        var executions = recent.Where(e => e.Action == "tool.executed" || failed.Contains(e.Action));
        foreach (var tool in executions.GroupBy(e => e.Subject, StringComparer.Ordinal))
        {
            var total = tool.Count();
            var failures = tool.Count(e => failed.Contains(e.Action));
            var share = (decimal)failures / total;
            if (failures < rule.MinFailures || share < rule.MinShare)
            {
                continue;
            }

            var timedOut = tool.Count(e => e.Action == "tool.timed-out");
            var toolName = tool.Key["tool/".Length..];
            var reason = string.Create(
                CultureInfo.InvariantCulture,
                $"{failures} of {total} executions of tool '{toolName}' failed in the window ({share * 100:0}%; {timedOut} timed out); threshold {rule.MinFailures} and {rule.MinShare * 100:0}%");
            yield return new WatchdogFinding(ToolFailure, tool.Key, reason, null, SwitchFor(rule.KillSwitch, toolName), new { tool = toolName, failures, total, timedOut, rule.MinFailures, rule.MinShare });
        }
    }

    /// <summary>
    /// Tools whose approval requests people mostly reject: agents keep asking for calls that people judge wrong. The
    /// <c>approval.decided</c> entries name the approval; its tool is read from the approvals by primary key, for the
    /// decisions of the window only.
    /// </summary>
    private async Task<IEnumerable<WatchdogFinding>> RejectedApprovalsAsync(string tenantId, List<Recent> recent, ApprovalRejectionRule rule, CancellationToken cancellationToken)
    {
        var decided = recent
            .Where(e => e.Action == "approval.decided" && e.Decision is ApprovalStatus.Approved or ApprovalStatus.Rejected)
            .Select(e => (Id: Guid.TryParse(e.Subject.AsSpan("approval/".Length), out var id) ? id : Guid.Empty, Rejected: e.Decision == ApprovalStatus.Rejected))
            .Where(d => d.Id != Guid.Empty)
            .ToList();
        if (decided.Count(d => d.Rejected) < rule.MinRejected)
        {
            return [];
        }

        var ids = decided.Select(d => d.Id).ToList();
        var tools = await db.Approvals.AsNoTracking()
            .Where(a => a.TenantId == tenantId && ids.Contains(a.Id))
            .Select(a => new { a.Id, a.Tool })
            .ToDictionaryAsync(a => a.Id, a => a.Tool, cancellationToken);
        var findings = new List<WatchdogFinding>();
        foreach (var tool in decided.Where(d => tools.ContainsKey(d.Id)).GroupBy(d => tools[d.Id], StringComparer.Ordinal))
        {
            var total = tool.Count();
            var rejected = tool.Count(d => d.Rejected);
            var share = (decimal)rejected / total;
            if (rejected < rule.MinRejected || share < rule.MinShare)
            {
                continue;
            }

            var reason = string.Create(
                CultureInfo.InvariantCulture,
                $"{rejected} of {total} approvals of tool '{tool.Key}' decided in the window were rejected ({share * 100:0}%); threshold {rule.MinRejected} and {rule.MinShare * 100:0}%");
            findings.Add(new WatchdogFinding(ApprovalRejections, $"tool/{tool.Key}", reason, null, SwitchFor(rule.KillSwitch, tool.Key), new { tool = tool.Key, rejected, total, rule.MinRejected, rule.MinShare }));
        }

        return findings;
    }

    private static string? SwitchFor(WatchdogKillSwitch action, string tool) => action switch
    {
        WatchdogKillSwitch.Tool => tool,
        WatchdogKillSwitch.Tenant => KillSwitch.TenantWide,
        _ => null,
    };

    /// <summary>
    /// Tasks that cost far more than their baseline: the median cost of the other tasks of the same workflow template (or of
    /// the other goal and explicit-step tasks) finished since yesterday, when there are more than
    /// <see cref="TaskCostRule.MinSamples"/> of them; otherwise the median of all the tenant's other tasks, so that a new
    /// template is judged too. A cheap template and an expensive one of the same tenant each keep their own bar.
    /// </summary>
    private async Task<IEnumerable<WatchdogFinding>> ExpensiveTasksAsync(string tenantId, DateTimeOffset now, TaskCostRule rule, CancellationToken cancellationToken)
    {
        var since = Ledger.DayOf(now).AddDays(-1);
        var finished = await db.Tasks.AsNoTracking()
            .Where(t => t.TenantId == tenantId && t.Day >= since && t.FinishedStatus != null)
            .OrderByDescending(t => t.AdmittedAt)
            .Take(MaxTasksScanned)
            .Select(t => new { t.TaskId, t.Cost, t.Template })
            .ToListAsync(cancellationToken);
        if (finished.Count <= rule.MinSamples)
        {
            return [];
        }

        var findings = new List<WatchdogFinding>();
        var tenantCosts = finished.Select(t => t.Cost).Order().ToList();
        var templateCosts = finished.GroupBy(t => t.Template ?? string.Empty, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(t => t.Cost).Order().ToList(), StringComparer.Ordinal);
        foreach (var task in finished)
        {
            // The baseline leaves the task itself out, so one huge task cannot raise its own bar.
            var sameTemplate = templateCosts[task.Template ?? string.Empty];
            var perTemplate = sameTemplate.Count - 1 >= rule.MinSamples;
            var others = new List<decimal>(perTemplate ? sameTemplate : tenantCosts);
            others.Remove(task.Cost);
            var median = Median(others);
            if (median <= 0 || task.Cost <= median * rule.Factor)
            {
                continue;
            }

            var baseline = !perTemplate ? $"the tenant's {others.Count} other tasks"
                : task.Template is { } template ? $"{others.Count} other tasks of template '{template}'"
                : $"the tenant's {others.Count} other goal and explicit-step tasks";
            var reason = string.Create(
                CultureInfo.InvariantCulture,
                $"task cost {task.Cost} is {task.Cost / median:0.#}x the median {median} of {baseline} finished since {since:yyyy-MM-dd}; threshold {rule.Factor}x");
            findings.Add(new WatchdogFinding(
                TaskCost,
                $"task/{task.TaskId}",
                reason,
                task.TaskId,
                rule.KillSwitch == WatchdogKillSwitch.Tenant ? KillSwitch.TenantWide : null,
                new { task.Cost, median, samples = others.Count, baseline = perTemplate ? task.Template ?? "(goal or steps)" : "(tenant)", rule.Factor }));
        }

        return findings;
    }

    private static decimal Median(List<decimal> sorted) =>
        sorted.Count == 0 ? 0 : sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;

    /// <summary>Raises one finding unless it was already raised: within the window for a tool, ever for a task.</summary>
    private async Task<bool> RaiseAsync(string tenantId, WatchdogFinding finding, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);

        // The chain head's lock serializes this check with every other replica's watchdog.
        await audit.LockChainAsync(tenantId, cancellationToken);
        var since = now - options.Value.WatchdogWindow;
        var raisedBefore = finding.TaskId is { } taskId
            ? await db.Audit.AnyAsync(e => e.TenantId == tenantId && e.TaskId == taskId && e.Action == AlertAction && e.Decision == finding.Rule, cancellationToken)
            : await db.Audit.AnyAsync(e => e.TenantId == tenantId && e.Action == AlertAction && e.Decision == finding.Rule && e.Subject == finding.Subject && e.Time >= since, cancellationToken);
        if (raisedBefore)
        {
            return false;
        }

        await audit.AppendAsync(tenantId, Actor, AlertAction, finding.Subject, finding.TaskId, finding.Rule, finding.Reason, finding.Details, cancellationToken);
        string? tripped = null;
        if (finding.KillSwitchTool is { } tool)
        {
            var existing = await db.KillSwitches.SingleOrDefaultAsync(k => k.TenantId == tenantId && k.Tool == tool, cancellationToken);
            if (existing is not { Enabled: true })
            {
                if (existing is null)
                {
                    existing = new KillSwitch { TenantId = tenantId, Tool = tool, ChangedBy = Actor };
                    db.KillSwitches.Add(existing);
                }

                existing.Enabled = true;
                existing.ChangedAt = now;
                existing.ChangedBy = Actor;
                existing.Reason = $"watchdog {finding.Rule}: {finding.Reason}";
                if (existing.Reason.Length > 500)
                {
                    existing.Reason = existing.Reason[..500];
                }

                await audit.AppendAsync(
                    tenantId, Actor, KillSwitchAction, tool == KillSwitch.TenantWide ? "tenant" : $"tool/{tool}", finding.TaskId, "On", $"{finding.Rule} on {finding.Subject}", new { tool, rule = finding.Rule }, cancellationToken);
                tripped = tool;
            }
        }

        await publisher.Publish(new WatchdogAlert(tenantId, finding.Rule, finding.Subject, finding.Reason, finding.TaskId, tripped, now), cancellationToken);
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        GovernanceTelemetry.WatchdogAlerted(tenantId, finding.Rule, tripped);
        return true;
    }
}
