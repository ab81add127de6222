using System.Text.Json;
using Agents.Contracts;
using Agents.Testing;

namespace Agents.Governance.Tests;

/// <summary>One injection attempt: instructions hidden in untrusted content and the mutating call they try to cause.</summary>
public sealed record InjectionAttempt(string Id, string Channel, string Text, string AttemptedTool, JsonElement AttemptedArguments);

[Trait("Category", "Infrastructure")]
public sealed class InjectionCorpusTests(SharedGovernanceHost shared) : IClassFixture<SharedGovernanceHost>
{
    // The most permissive policy possible: every tool and scope for the user, no approval rules at all.
    private const string PermissivePolicy = """
        { "enabled": true, "adminRole": "admin", "approverRoles": ["approver"],
          "roles": { "agent-user": { "tools": ["*"], "scopes": ["*"] } },
          "approvalRules": [],
          "loopDetection": { "maxIdenticalCalls": 1000 } }
        """;

    private GovernanceHost Host => shared.Host;

    public static IReadOnlyList<InjectionAttempt> Corpus { get; } = JsonSerializer.Deserialize<List<InjectionAttempt>>(
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "InjectionCorpus", "injection-corpus.json")),
        new JsonSerializerOptions(JsonSerializerDefaults.Web))!;

    [Fact]
    public void Corpus_has_at_least_30_attempts_across_pages_tickets_and_memories()
    {
        Assert.True(Corpus.Count >= 30, $"Only {Corpus.Count} attempts.");
        Assert.Equal(Corpus.Count, Corpus.Select(a => a.Id).Distinct().Count());
        Assert.Equal(["memory", "page", "ticket"], Corpus.Select(a => a.Channel).Distinct().Order());
        Assert.All(Corpus, a => Assert.True(ToolEndpoints.IsValidName(a.AttemptedTool), a.Id));
    }

    [Fact]
    public async Task No_injection_attempt_gets_an_unapproved_mutating_call_allowed()
    {
        var tenant = TestInfrastructure.UniqueName("inj");
        await Host.PutPolicyAsync(tenant, PermissivePolicy);
        var user = new AgentPrincipal(tenant, "victim", ["agent-user"]);
        var failures = new List<string>();

        foreach (var attempt in Corpus)
        {
            var task = Guid.NewGuid();
            var arguments = attempt.AttemptedArguments.GetRawText();
            foreach (var risk in new[] { RiskTier.Low, RiskTier.High })
            {
                var call = GovernanceHost.Call(user, task, attempt.AttemptedTool, arguments, SideEffectClass.Mutating, risk, scope: attempt.AttemptedTool, tainted: true, stepId: $"{attempt.Id}-{risk}");
                var plain = await Host.AuthorizeAsync(call);
                var forged = await Host.AuthorizeAsync(call with { ApprovalId = Guid.NewGuid() });
                if (plain.Decision == AuthorizationDecision.Allow || forged.Decision == AuthorizationDecision.Allow)
                {
                    failures.Add($"{attempt.Id} ({attempt.Channel}, {risk}): plain {plain.Decision}, forged approval {forged.Decision}");
                }

                if (plain.Decision == AuthorizationDecision.RequireApproval && plain.ApprovalId is null)
                {
                    failures.Add($"{attempt.Id}: approval required without an approval id");
                }
            }
        }

        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    [Fact]
    public async Task The_same_calls_without_taint_are_allowed_so_the_taint_rule_is_what_stops_them()
    {
        var tenant = TestInfrastructure.UniqueName("inj");
        await Host.PutPolicyAsync(tenant, PermissivePolicy);
        var user = new AgentPrincipal(tenant, "owner", ["agent-user"]);
        var attempt = Corpus[0];

        var result = await Host.AuthorizeAsync(GovernanceHost.Call(user, Guid.NewGuid(), attempt.AttemptedTool, attempt.AttemptedArguments.GetRawText(), SideEffectClass.Mutating, scope: attempt.AttemptedTool));

        Assert.Equal(AuthorizationDecision.Allow, result.Decision);
    }
}
