using System.Text.Json;
using System.Text.Json.Serialization;
using Agents.Contracts;

namespace Agents.Governance.Policies;

/// <summary>A tenant's policy (its JSON schema: Policies/policy.schema.json). Built only from a validated document.</summary>
public sealed record PolicyDocument(
    bool Enabled,
    string AdminRole,
    IReadOnlyList<string> ApproverRoles,
    IReadOnlyDictionary<string, RolePolicy> Roles,
    IReadOnlyDictionary<string, RiskTier> ToolRiskTiers,
    IReadOnlyList<ApprovalRule> ApprovalRules,
    BudgetPolicy Budgets,
    ApprovalPolicy Approval,
    LoopDetectionPolicy LoopDetection,
    IReadOnlyList<UntrustedArgumentRule> UntrustedArguments,
    WatchdogPolicy? Watchdog = null)
{
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = false,
    };

    /// <summary>
    /// Who may decide an approval: the approver roles and always the admin role, so that a tenant whose users hold
    /// none of the approver roles still has someone who can decide (a policy write keeps its writer an admin).
    /// </summary>
    [JsonIgnore]
    public IReadOnlyList<string> DeciderRoles => [.. ApproverRoles.Append(AdminRole).Distinct(StringComparer.Ordinal)];

    /// <summary>Every role that may decide some approval: the <see cref="DeciderRoles"/> and the role expired approvals escalate to.</summary>
    [JsonIgnore]
    public IReadOnlyList<string> ApprovalRoles => [.. DeciderRoles.Append(Approval.EscalateTo ?? string.Empty).Where(r => r.Length > 0).Distinct(StringComparer.Ordinal)];

    /// <summary>Serializes the document (all defaults filled in).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>The tool name patterns that <paramref name="roles"/> allow together (what <see cref="RolesAllowTool"/> matches against).</summary>
    public IReadOnlyList<string> CallableTools(IEnumerable<string> roles) =>
        roles.Where(Roles.ContainsKey).SelectMany(r => Roles[r].Tools).Distinct(StringComparer.Ordinal).ToArray();

    /// <summary>True when one of <paramref name="roles"/> allows <paramref name="tool"/>.</summary>

    public bool RolesAllowTool(IEnumerable<string> roles, string tool) =>
        roles.Any(r => Roles.TryGetValue(r, out var role) && Wildcard.MatchesAny(role.Tools, tool));

    /// <summary>True when one of <paramref name="roles"/> grants <paramref name="scope"/> (an empty scope needs no grant).</summary>
    public bool RolesGrantScope(IEnumerable<string> roles, string scope) =>
        string.IsNullOrEmpty(scope)
        || roles.Any(r => Roles.TryGetValue(r, out var role) && Wildcard.MatchesAny(role.Scopes, scope));

    /// <summary>The tool's risk tier after the policy's overrides (the first matching pattern wins; exact names first).</summary>
    public RiskTier EffectiveRisk(string tool, RiskTier announced)
    {
        if (ToolRiskTiers.TryGetValue(tool, out var exact))
        {
            return exact;
        }

        foreach (var (pattern, tier) in ToolRiskTiers.OrderByDescending(p => p.Key.Length))
        {
            if (Wildcard.IsMatch(pattern, tool))
            {
                return tier;
            }
        }

        return announced;
    }
}

/// <summary>What one role may do: tool name patterns and permission scope patterns.</summary>
public sealed record RolePolicy(IReadOnlyList<string> Tools, IReadOnlyList<string> Scopes);

/// <summary>
/// A call needs approval when every condition given in the rule holds (at least one is given).
/// <see cref="Argument"/> is a JSON pointer into the call's arguments compared with the thresholds.
/// </summary>
public sealed record ApprovalRule(
    string? Tool = null,
    SideEffectClass? SideEffect = null,
    RiskTier? MinRisk = null,
    string? Argument = null,
    decimal? GreaterThan = null,
    decimal? LessThan = null,
    [property: JsonPropertyName("equals")] JsonElement? EqualsValue = null)
{
    public override string ToString()
    {
        var parts = new List<string>();
        if (Tool is not null)
        {
            parts.Add($"tool '{Tool}'");
        }

        if (SideEffect is not null)
        {
            parts.Add($"side effect {SideEffect}");
        }

        if (MinRisk is not null)
        {
            parts.Add($"risk at least {MinRisk}");
        }

        if (Argument is not null)
        {
            var op = GreaterThan is not null ? $" > {GreaterThan}" : string.Empty;
            op += LessThan is not null ? $" < {LessThan}" : string.Empty;
            op += EqualsValue is not null ? $" = {EqualsValue.Value.GetRawText()}" : string.Empty;
            parts.Add($"argument {Argument}{op}");
        }

        return string.Join(", ", parts);
    }
}

/// <summary>Budgets per task, per user per UTC day and per tenant per UTC day. Null: no limit.</summary>
public sealed record BudgetPolicy(TaskBudgetLimits PerTask, DailyLimits PerUserPerDay, DailyLimits PerTenantPerDay);

/// <summary>Per-task limits.</summary>
public sealed record TaskBudgetLimits(int? Tokens = null, decimal? Cost = null, int? ToolCalls = null, int? Steps = null, int? WallClockSeconds = null)
{
    public TaskLimits ToTaskLimits() => new(Steps, ToolCalls, Tokens, Cost, WallClockSeconds is { } s ? TimeSpan.FromSeconds(s) : null);
}

/// <summary>Per-day limits.</summary>
public sealed record DailyLimits(long? Tokens = null, decimal? Cost = null, int? ToolCalls = null);

/// <summary>How long an approval may wait and what its expiry means.</summary>
public sealed record ApprovalPolicy(int TimeoutSeconds, string OnExpiry, string? EscalateTo)
{
    public const string Deny = "deny";
    public const string Escalate = "escalate";
}

/// <summary>The loop detector: the same tool with the same arguments allowed more than this many times in one task is denied.</summary>
public sealed record LoopDetectionPolicy(int MaxIdenticalCalls);

/// <summary>What the kill switch does when a watchdog rule fires: nothing, the tool's switch, or the tenant's.</summary>
public enum WatchdogKillSwitch
{
    None,
    Tool,
    Tenant,
}

/// <summary>
/// The watchdog's thresholds for a tenant (null section: <see cref="WatchdogPolicy.Default"/>, which alerts and trips nothing).
/// </summary>
public sealed record WatchdogPolicy(DenialSpikeRule DenialSpike, TaskCostRule TaskCost, ToolFailureRule ToolFailure, ApprovalRejectionRule ApprovalRejection)
{
    public static WatchdogPolicy Default { get; } = new(new DenialSpikeRule(), new TaskCostRule(), new ToolFailureRule(), new ApprovalRejectionRule());
}

/// <summary>
/// People rejecting a tool's approval requests in the watchdog's window: at least <see cref="MinRejected"/> rejections,
/// and at least <see cref="MinShare"/> of the tool's decided approvals (expired ones are not decisions).
/// </summary>
public sealed record ApprovalRejectionRule(int MinRejected = 5, decimal MinShare = 0.5m, WatchdogKillSwitch KillSwitch = WatchdogKillSwitch.None);

/// <summary>
/// A tool's executions in the watchdog's window that failed or timed out: at least <see cref="MinFailures"/> of them,
/// and at least <see cref="MinShare"/> of its executions (compensations are not counted).
/// </summary>
public sealed record ToolFailureRule(int MinFailures = 10, decimal MinShare = 0.5m, WatchdogKillSwitch KillSwitch = WatchdogKillSwitch.None);

/// <summary>
/// A tool's denied authorizations in the watchdog's window: at least <see cref="MinDenied"/> of them, and at least
/// <see cref="MinShare"/> of its decisions (denials by a kill switch do not count).
/// </summary>
public sealed record DenialSpikeRule(int MinDenied = 20, decimal MinShare = 0.5m, WatchdogKillSwitch KillSwitch = WatchdogKillSwitch.None);

/// <summary>
/// A finished task whose cost is more than <see cref="Factor"/> times the median of the tenant's other tasks finished
/// in the last two UTC days, once at least <see cref="MinSamples"/> of them exist.
/// </summary>
public sealed record TaskCostRule(decimal Factor = 5m, int MinSamples = 5, WatchdogKillSwitch KillSwitch = WatchdogKillSwitch.None);
