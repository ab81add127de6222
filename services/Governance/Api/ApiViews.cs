using System.Text.Json;
using Agents.Governance.Policies;

namespace Agents.Governance.Api;

/// <summary>The current policy: <c>GET /api/governance/policy</c> (its version is also the ETag).</summary>
public sealed record PolicyView(string TenantId, int Version, bool IsDefault, JsonElement Document);

/// <summary>A policy version written by <c>PUT /api/governance/policy</c>.</summary>
public sealed record PolicyWritten(string TenantId, int Version, DateTimeOffset CreatedAt, string CreatedBy);

/// <summary>One stored policy version, without (list) or with its document.</summary>
public sealed record PolicyVersionInfo(int Version, DateTimeOffset CreatedAt, string CreatedBy);

/// <summary>One stored policy version with its document.</summary>
public sealed record PolicyVersionView(int Version, DateTimeOffset CreatedAt, string CreatedBy, JsonElement Document);

/// <summary>A kill switch: a tool, or <c>*</c> for the whole tenant.</summary>
public sealed record KillSwitchView(string Tool, bool Enabled, DateTimeOffset ChangedAt, string ChangedBy, string? Reason);

/// <summary>Usage of one UTC day: <c>GET /api/governance/usage</c>.</summary>
public sealed record UsageView(string TenantId, string Day, TenantUsageView? Tenant, IEnumerable<UserUsageView> Users, IEnumerable<TaskUsageView> Tasks);

/// <summary>The tenant's totals of the day (admins only) and its daily limits.</summary>
public sealed record TenantUsageView(long Tokens, decimal Cost, int ToolCalls, DailyLimits Limits);

/// <summary>A user's totals of the day and their daily limits.</summary>
public sealed record UserUsageView(string UserId, long Tokens, decimal Cost, int ToolCalls, DailyLimits Limits);

/// <summary>A task admitted (or refused) that day, with what it used and its limits.</summary>
public sealed record TaskUsageView(
    Guid TaskId, string UserId, bool Admitted, string? RejectionReason, DateTimeOffset AdmittedAt, long Tokens, decimal Cost, int ToolCalls, int Steps,
    string? FinishedStatus, TaskLimitsView Limits);

/// <summary>A task's effective limits.</summary>
public sealed record TaskLimitsView(int? MaxSteps, int? MaxToolCalls, int? MaxTokens, decimal? MaxCost, int? MaxWallClockSeconds);

/// <summary>One entry of the hash-chained audit log.</summary>
public sealed record AuditEntryView(
    long Sequence, DateTimeOffset Time, string Actor, string Action, string Subject, Guid? TaskId, string? Decision, string? Reason, JsonElement Details,
    string PrevHash, string Hash);
