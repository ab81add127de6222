using System.Diagnostics;
using System.Diagnostics.Metrics;
using Agents.Governance.Data;
using Agents.Governance.Decisions;

namespace Agents.Governance.Telemetry;

/// <summary>
/// Governance's counters (meter <c>Agents.Governance</c>): every audited decision by action, decision and a reason
/// category (<see cref="ReasonCategory"/>: the free-text reason mapped to a bounded set), and approvals requested and
/// ended with the time they waited for a person. The gauges that need the database (pending approvals, kill switches,
/// budgets) are measured by <see cref="GovernanceMonitor"/>.
/// </summary>
internal static class GovernanceTelemetry
{
    public const string Name = "Agents.Governance";

    public const string TenantTag = "agents.tenant";
    public const string ToolTag = "gen_ai.tool.name";

    private static readonly Meter Meter = new(Name);

    private static readonly Counter<long> Decisions = Meter.CreateCounter<long>(
        "agents.governance.decisions", "{decision}", "Audited governance decisions, by tenant, action, decision and reason category.");

    private static readonly Counter<long> ApprovalsRequested = Meter.CreateCounter<long>(
        "agents.approval.requested", "{approval}", "Approvals asked of a person, by tenant and tool.");

    private static readonly Counter<long> ApprovalsEnded = Meter.CreateCounter<long>(
        "agents.approval.ended", "{approval}", "Approvals that stopped waiting, by tenant, tool and how (Approved, Rejected, Expired, Withdrawn).");

    private static readonly Histogram<double> ApprovalWait = Meter.CreateHistogram<double>(
        "agents.approval.wait", "s", "Time an approval waited for a person, by tenant, tool and how it ended.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [1, 5, 15, 30, 60, 300, 900, 1800, 3600, 14400, 86400] });

    private static readonly Counter<long> WatchdogAlerts = Meter.CreateCounter<long>(
        "agents.watchdog.alerts", "{alert}", "Watchdog alerts raised, by tenant, rule and the kill switch it turned on (tool, tenant or none).");

    /// <summary>Counts one watchdog alert once it is committed.</summary>
    public static void WatchdogAlerted(string tenant, string rule, string? killSwitch) =>
        WatchdogAlerts.Add(1, new TagList
        {
            { TenantTag, tenant },
            { "agents.watchdog.rule", rule },
            { "agents.watchdog.kill_switch", killSwitch is null ? "none" : killSwitch == KillSwitch.TenantWide ? "tenant" : "tool" },
        });

    /// <summary>Counts one audited decision (called by the audit log for every entry).</summary>
    public static void Decided(string tenant, string action, string? decision, string? reason) =>
        Decisions.Add(1, new TagList
        {
            { TenantTag, tenant },
            { "agents.governance.action", action },
            { "agents.governance.decision", decision ?? string.Empty },
            { "agents.governance.reason", ReasonCategory(reason) },
        });

    public static void ApprovalRequested(string tenant, string tool) =>
        ApprovalsRequested.Add(1, new(TenantTag, tenant), new(ToolTag, tool));

    /// <summary>Records an approval that was decided, expired or withdrawn.</summary>
    public static void ApprovalEnded(Approval approval)
    {
        var tags = new TagList { { TenantTag, approval.TenantId }, { ToolTag, approval.Tool }, { "agents.approval.decision", approval.Status } };
        ApprovalsEnded.Add(1, tags);
        if (approval.DecidedAt is { } decided)
        {
            ApprovalWait.Record(Math.Max(0, (decided - approval.CreatedAt).TotalSeconds), tags);
        }
    }

    /// <summary>The reason of a decision as one of a bounded set of categories (the text itself names tasks, users and tools).</summary>
    public static string ReasonCategory(string? reason)
    {
        if (string.IsNullOrEmpty(reason))
        {
            return "none";
        }

        static bool Has(string text, string part) => text.Contains(part, StringComparison.OrdinalIgnoreCase);
        return reason switch
        {
            _ when Has(reason, "kill switch") => "kill_switch",
            _ when Has(reason, AuthorizationService.LoopDetected) => "loop",
            _ when Has(reason, "approval required") => "approval_required",
            _ when Has(reason, "budget") || Has(reason, "exhausted") => "budget",
            _ when Has(reason, "disabled by its policy") => "tenant_disabled",
            _ when Has(reason, "approval") && (Has(reason, "rejected") || Has(reason, "expired") || Has(reason, "does not exist")) => "approval_refused",
            _ when Has(reason, "approved by a person") => "approved",
            _ when Has(reason, "allowed by policy") => "allowed",
            _ when Has(reason, "none of the user's roles") || Has(reason, "does not allow tool") => "not_permitted",
            _ when Has(reason, "invalid request") => "invalid_request",
            _ when reason.StartsWith("task ", StringComparison.Ordinal) => "task_state",
            _ => "other",
        };
    }
}
