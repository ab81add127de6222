namespace Agents.Governance.Policies;

/// <summary>The default policy (tenants without one) and the seeded policy of the demo tenant.</summary>
public static class PolicyDefaults
{
    public const string DemoTenant = "demo";

    public static BudgetPolicy Budgets { get; } = new(
        new TaskBudgetLimits(Tokens: 50_000, Cost: 1.00m, ToolCalls: 25, Steps: 25, WallClockSeconds: 900),
        new DailyLimits(Tokens: 500_000, Cost: 10.00m, ToolCalls: 500),
        new DailyLimits(Tokens: 5_000_000, Cost: 100.00m, ToolCalls: 5_000));

    public static ApprovalPolicy Approval { get; } = new(3600, ApprovalPolicy.Deny, null);

    public static LoopDetectionPolicy LoopDetection { get; } = new(3);

    /// <summary>
    /// For a tenant that has no policy: enabled, no role may call any tool (deny by default), the
    /// default budgets, approvers 'approver', admin 'admin' (so the tenant's admin can write a policy), and no
    /// autonomy for untrusted values (a tainted argument of a tool that acts outside needs a person).
    /// </summary>
    public static PolicyDocument Default { get; } = new(
        Enabled: true,
        AdminRole: "admin",
        ApproverRoles: ["approver"],
        Roles: new Dictionary<string, RolePolicy>(StringComparer.Ordinal),
        ToolRiskTiers: new Dictionary<string, Contracts.RiskTier>(StringComparer.Ordinal),
        ApprovalRules: [],
        Budgets: Budgets,
        Approval: Approval,
        LoopDetection: LoopDetection,
        UntrustedArguments: []);

    /// <summary>The demo tenant's seeded policy (version 1), as a document an admin would PUT.</summary>
    public const string DemoPolicyJson = """
        {
          "enabled": true,
          "adminRole": "admin",
          "approverRoles": ["approver"],
          "roles": {
            "agent-user": {
              "tools": ["crm.lookup-customer", "web.fetch", "tickets.create"],
              "scopes": ["crm.*", "web.*", "tickets.*"]
            },
            "admin": { "tools": ["*"], "scopes": ["*"] }
          },
          "toolRiskTiers": { "tickets.create": "Medium" },
          "approvalRules": [
            { "sideEffect": "Mutating", "minRisk": "High" },
            { "tool": "payments.refund", "argument": "/amount", "greaterThan": 100 }
          ],
          "budgets": {
            "perTask": { "tokens": 50000, "cost": 1.0, "toolCalls": 25, "steps": 25, "wallClockSeconds": 900 },
            "perUserPerDay": { "tokens": 500000, "cost": 10.0, "toolCalls": 500 },
            "perTenantPerDay": { "tokens": 5000000, "cost": 100.0, "toolCalls": 5000 }
          },
          "approval": { "timeoutSeconds": 3600, "onExpiry": "escalate", "escalateTo": "admin" },
          "loopDetection": { "maxIdenticalCalls": 3 },
          "untrustedArguments": [
            { "tool": "tickets.create", "class": "data", "decision": "allow" }
          ]
        }
        """;
}
