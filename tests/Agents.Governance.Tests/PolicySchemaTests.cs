using System.Text.Json;
using Agents.Contracts;
using Agents.Governance.Policies;

namespace Agents.Governance.Tests;

/// <summary>The policy's JSON schema: complete, strict, and the source of the validator's pointers and messages.</summary>
[Trait("Category", "Unit")]
public sealed class PolicySchemaTests
{
    private const string Minimal = """{"enabled": true, "adminRole": "admin", "approverRoles": ["approver"]""";

    [Fact]
    public void Every_property_of_the_schema_is_described_and_every_object_refuses_unknown_properties()
    {
        using var schema = JsonDocument.Parse(PolicyValidator.SchemaJson);
        var undescribed = new List<string>();
        var open = new List<string>();

        Walk(schema.RootElement, string.Empty);

        Assert.True(undescribed.Count == 0, "Without a description: " + string.Join(", ", undescribed));
        Assert.True(open.Count == 0, "Without additionalProperties false: " + string.Join(", ", open));

        void Walk(JsonElement element, string pointer)
        {
            if (element.ValueKind == JsonValueKind.Array)
            {
                var i = 0;
                foreach (var item in element.EnumerateArray())
                {
                    Walk(item, $"{pointer}/{i++}");
                }

                return;
            }

            if (element.ValueKind != JsonValueKind.Object)
            {
                return;
            }

            if (element.TryGetProperty("properties", out var properties) && !pointer.Contains("/if", StringComparison.Ordinal) && !pointer.Contains("/then", StringComparison.Ordinal))
            {
                undescribed.AddRange(properties.EnumerateObject()
                    .Where(p => !p.Value.TryGetProperty("description", out var d) || string.IsNullOrWhiteSpace(d.GetString()))
                    .Select(p => $"{pointer}/properties/{p.Name}"));
                if (!element.TryGetProperty("additionalProperties", out var additional) || additional.ValueKind != JsonValueKind.False)
                {
                    open.Add(pointer);
                }
            }

            foreach (var property in element.EnumerateObject())
            {
                Walk(property.Value, $"{pointer}/{property.Name}");
            }
        }
    }

    [Theory]
    [InlineData("""{"enabled": "yes", "adminRole": "admin", "approverRoles": ["approver"]}""", "/enabled", "'enabled' must be true or false.")]
    [InlineData("""{"enabled": true, "approverRoles": ["approver"]}""", "/adminRole", "'adminRole' is required. The role that may change the policy")]
    [InlineData("""{"enabled": true, "adminRole": "admin", "approverRoles": []}""", "/approverRoles", "'approverRoles' needs at least 1 entry.")]
    [InlineData(Minimal + """, "surprise": 1}""", "/surprise", "Unknown property 'surprise'. Allowed here: enabled, adminRole, approverRoles, roles,")]
    [InlineData(Minimal + """, "roles": {"agent-user": {"tools": ["CRM lookup"]}}}""", "/roles/agent-user/tools/0", "Must be a name pattern")]
    [InlineData(Minimal + """, "roles": {"agent-user": {"tools": [], "scopez": []}}}""", "/roles/agent-user/scopez", "Allowed here: tools, scopes.")]
    [InlineData(Minimal + """, "roles": {"agent-user": {"scopes": []}}}""", "/roles/agent-user/tools", "'tools' is required.")]
    [InlineData(Minimal + """, "roles": {"a,b": {"tools": []}}}""", "/roles/a,b", "A role name has 1 to 100 printable characters")]
    [InlineData(Minimal + """, "toolRiskTiers": {"tickets.create": "Extreme"}}""", "/toolRiskTiers/tickets.create", "'tickets.create' must be one of Low, Medium, High, Critical.")]
    [InlineData(Minimal + """, "toolRiskTiers": {"a/b": "Low"}}""", "/toolRiskTiers/a~1b", "Must be a name pattern")]
    [InlineData(Minimal + """, "approvalRules": [{}]}""", "/approvalRules/0", "A rule needs at least one of 'tool', 'sideEffect', 'minRisk' or 'argument'")]
    [InlineData(Minimal + """, "approvalRules": [{"tool": "payments.refund", "greaterThan": 5}]}""", "/approvalRules/0", "need 'argument'")]
    [InlineData(Minimal + """, "approvalRules": [{"argument": "/amount", "equals": [1]}]}""", "/approvalRules/0/equals", "Must be a string (at most 1000 characters), a number, true, false or null.")]
    [InlineData(Minimal + """, "approvalRules": [{"sideEffect": "Dangerous"}]}""", "/approvalRules/0/sideEffect", "must be one of ReadOnly, Idempotent, Mutating.")]
    [InlineData(Minimal + """, "budgets": {"perTask": {"tokens": -5}}}""", "/budgets/perTask/tokens", "Must be a positive whole number (at most 2147483647), or null for no limit.")]
    [InlineData(Minimal + """, "budgets": {"perUserPerDay": {"tokens": 1e19}}}""", "/budgets/perUserPerDay/tokens", "at most 9223372036854775807")]
    [InlineData(Minimal + """, "budgets": {"perTenantPerDay": {"cost": 0}}}""", "/budgets/perTenantPerDay/cost", "Must be a positive number, or null for no limit.")]
    [InlineData(Minimal + """, "approval": {"onExpiry": "escalate"}}""", "/approval/escalateTo", "'escalateTo' (the role that decides after escalation) is required when 'onExpiry' is \"escalate\".")]
    [InlineData(Minimal + """, "approval": {"onExpiry": "wait"}}""", "/approval/onExpiry", "'onExpiry' must be one of deny, escalate.")]
    [InlineData(Minimal + """, "approval": {"timeoutSeconds": 604801}}""", "/approval/timeoutSeconds", "from 1 to 604800")]
    [InlineData(Minimal + """, "watchdog": {"taskCost": {"killSwitch": "tool"}}}""", "/watchdog/taskCost/killSwitch", "'killSwitch' must be one of none, tenant.")]
    [InlineData(Minimal + """, "watchdog": {"denialSpike": {"minDenied": 2.5}}}""", "/watchdog/denialSpike/minDenied", "Must be a whole number from 1 to 100000.")]
    [InlineData("[]", "", "The document must be an object.")]
    public void A_refused_document_names_each_place_and_what_is_expected_there(string json, string pointer, string message)
    {
        var document = PolicyValidator.Validate(json, out var errors);

        Assert.Null(document);
        Assert.True(
            errors.Any(e => e.Pointer == pointer && e.Message.Contains(message, StringComparison.Ordinal)),
            $"No error '{message}' at '{pointer}'; got: {string.Join(" | ", errors.Select(e => $"{e.Pointer}: {e.Message}"))}");
    }

    [Fact]
    public void A_valid_document_is_built_with_the_defaults_of_what_it_leaves_out()
    {
        const string json = Minimal + """
            , "toolRiskTiers": {"crm.*": "high"},
              "approvalRules": [{"sideEffect": "mutating", "argument": "/note", "equals": null}],
              "budgets": {"perTask": {"tokens": 5.0}},
              "approval": {"onExpiry": "escalate", "escalateTo": "admin"},
              "loopDetection": {},
              "untrustedArguments": [{"class": "data", "decision": "allow"}],
              "watchdog": {"taskCost": {"killSwitch": "tenant"}}}
            """;

        var document = PolicyValidator.Validate(json, out var errors);

        Assert.Empty(errors);
        Assert.NotNull(document);
        Assert.Equal(RiskTier.High, document.ToolRiskTiers["crm.*"]);
        var rule = Assert.Single(document.ApprovalRules);
        Assert.Equal((SideEffectClass.Mutating, "/note", JsonValueKind.Null), (rule.SideEffect!.Value, rule.Argument, rule.EqualsValue!.Value.ValueKind));
        Assert.Equal(new TaskBudgetLimits(Tokens: 5), document.Budgets.PerTask);
        Assert.Equal(PolicyDefaults.Budgets.PerUserPerDay, document.Budgets.PerUserPerDay);
        Assert.Equal(new ApprovalPolicy(3600, ApprovalPolicy.Escalate, "admin"), document.Approval);
        Assert.Equal(PolicyDefaults.LoopDetection, document.LoopDetection);
        Assert.Equal([new UntrustedArgumentRule(null, ArgumentClass.Data, UntrustedFlow.Allow)], document.UntrustedArguments);
        Assert.Equal(new TaskCostRule(KillSwitch: WatchdogKillSwitch.Tenant), document.Watchdog!.TaskCost);
        Assert.Equal(new DenialSpikeRule(), document.Watchdog.DenialSpike);
        Assert.Empty(document.Roles);
    }
}
