using System.Numerics;
using System.Text.Json;
using System.Text.Json.Serialization;
using Agents.Contracts;
using Json.Schema;

namespace Agents.Governance.Policies;

/// <summary>One problem in a policy document: where (a JSON pointer) and what.</summary>
public sealed record PolicyError(string Pointer, string Message);

/// <summary>
/// Validates a policy document against the policy's JSON schema (<c>policy.schema.json</c>, served at
/// <c>GET /api/governance/policy/schema</c>) and builds the <see cref="PolicyDocument"/> with defaults filled in. The
/// schema holds every rule of the document (unknown properties are errors, so a typo never silently weakens a policy);
/// what depends on who writes it (the writer must stay an admin) and the size limit are checked by the policy API.
/// </summary>
public static class PolicyValidator
{
    /// <summary>The largest policy document, in UTF-8 bytes.</summary>
    public const int MaxDocumentBytes = 64 * 1024;

    /// <summary>The policy's JSON schema (draft 2020-12), with a description of every property.</summary>
    public static string SchemaJson { get; } = ReadSchema();

    private static readonly JsonDocument SchemaDocument = JsonDocument.Parse(SchemaJson);

    private static readonly JsonSchema Schema = JsonSchema.Build(SchemaDocument.RootElement, new BuildOptions { SchemaRegistry = new SchemaRegistry() });

    private static readonly JsonSerializerOptions Reading = new(PolicyDocument.Json)
    {
        Converters = { new WholeNumberConverter<int>(), new WholeNumberConverter<long>() },
    };

    /// <summary>The document with its defaults filled in, or null and every problem (a JSON pointer and a message) when it is invalid.</summary>
    public static PolicyDocument? Validate(string json, out IReadOnlyList<PolicyError> errors)
    {
        JsonDocument parsed;
        try
        {
            parsed = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow });
        }
        catch (JsonException ex)
        {
            errors = [new PolicyError(string.Empty, $"The policy is not valid JSON: {ex.Message}")];
            return null;
        }

        using (parsed)
        {
            var results = Schema.Evaluate(parsed.RootElement, SchemaErrors.Options);
            if (!results.IsValid)
            {
                errors = SchemaErrors.Explain(results, SchemaDocument.RootElement, parsed.RootElement).Select(e => new PolicyError(e.Pointer, e.Message)).ToList();
                return null;
            }

            errors = [];
            return Build(parsed.RootElement.Deserialize<Input>(Reading)!);
        }
    }

    /// <summary>The document from a valid input: sections left out get the defaults of <see cref="PolicyDefaults"/>.</summary>
    private static PolicyDocument Build(Input input)
    {
        var budgets = input.Budgets;
        var approval = input.Approval;
        var watchdog = input.Watchdog;
        return new PolicyDocument(
            input.Enabled,
            input.AdminRole,
            input.ApproverRoles,
            (input.Roles ?? []).ToDictionary(r => r.Key, r => new RolePolicy(r.Value.Tools, r.Value.Scopes ?? []), StringComparer.Ordinal),
            input.ToolRiskTiers ?? new Dictionary<string, RiskTier>(StringComparer.Ordinal),
            [.. (input.ApprovalRules ?? []).Select(r => new ApprovalRule(
                r.Tool, r.SideEffect, r.MinRisk, r.Argument, r.GreaterThan, r.LessThan, r.EqualsValue.ValueKind == JsonValueKind.Undefined ? null : r.EqualsValue))],
            new BudgetPolicy(
                budgets?.PerTask ?? PolicyDefaults.Budgets.PerTask,
                budgets?.PerUserPerDay ?? PolicyDefaults.Budgets.PerUserPerDay,
                budgets?.PerTenantPerDay ?? PolicyDefaults.Budgets.PerTenantPerDay),
            new ApprovalPolicy(
                approval?.TimeoutSeconds ?? PolicyDefaults.Approval.TimeoutSeconds,
                approval?.OnExpiry ?? PolicyDefaults.Approval.OnExpiry,
                approval?.EscalateTo),
            new LoopDetectionPolicy(input.LoopDetection?.MaxIdenticalCalls ?? PolicyDefaults.LoopDetection.MaxIdenticalCalls),
            input.UntrustedArguments ?? [],
            watchdog is null ? null : new WatchdogPolicy(watchdog.DenialSpike ?? new(), watchdog.TaskCost ?? new(), watchdog.ToolFailure ?? new(), watchdog.ApprovalRejection ?? new()));
    }

    private static string ReadSchema()
    {
        using var stream = typeof(PolicyValidator).Assembly.GetManifestResourceStream("policy.schema.json")
            ?? throw new InvalidOperationException("The policy schema is not embedded in the governance assembly.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    // The document as written: what may be left out is nullable.
    private sealed record Input(
        bool Enabled,
        string AdminRole,
        List<string> ApproverRoles,
        Dictionary<string, RoleInput>? Roles,
        Dictionary<string, RiskTier>? ToolRiskTiers,
        List<RuleInput>? ApprovalRules,
        BudgetsInput? Budgets,
        ApprovalInput? Approval,
        LoopDetectionInput? LoopDetection,
        List<UntrustedArgumentRule>? UntrustedArguments,
        WatchdogInput? Watchdog);

    private sealed record RoleInput(List<string> Tools, List<string>? Scopes);

    // 'equals' may be null (the argument is null), so a missing one is told apart by its Undefined kind.
    private sealed record RuleInput(
        string? Tool,
        SideEffectClass? SideEffect,
        RiskTier? MinRisk,
        string? Argument,
        decimal? GreaterThan,
        decimal? LessThan,
        [property: JsonPropertyName("equals")] JsonElement EqualsValue);

    private sealed record BudgetsInput(TaskBudgetLimits? PerTask, DailyLimits? PerUserPerDay, DailyLimits? PerTenantPerDay);

    private sealed record ApprovalInput(int? TimeoutSeconds, string? OnExpiry, string? EscalateTo);

    private sealed record LoopDetectionInput(int? MaxIdenticalCalls);

    private sealed record WatchdogInput(DenialSpikeRule? DenialSpike, TaskCostRule? TaskCost, ToolFailureRule? ToolFailure, ApprovalRejectionRule? ApprovalRejection);

    /// <summary>Reads a whole number written with a fraction of zero (<c>5.0</c>), which JSON Schema counts as an integer.</summary>
    private sealed class WholeNumberConverter<T> : JsonConverter<T>
        where T : struct, INumber<T>
    {
        public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => T.CreateChecked(reader.GetDecimal());

        public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options) => writer.WriteNumberValue(decimal.CreateChecked(value));
    }
}
