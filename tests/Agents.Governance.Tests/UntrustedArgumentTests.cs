using System.Net;
using System.Text.Json;
using Agents.Contracts;
using Agents.Governance.Policies;
using Agents.Testing;

namespace Agents.Governance.Tests;

/// <summary>
/// Policy per tool and argument class decides untrusted values: Data may flow where the tenant allows it, Control never
/// flows unreviewed, no rule keeps today's safe default (a tool that acts outside needs a person), a read-only tool that
/// sends data out is an egress, flagged content always stops, and the approval explains itself.
/// </summary>
[Trait("Category", "Infrastructure")]
public sealed class UntrustedArgumentTests(SharedGovernanceHost shared) : IClassFixture<SharedGovernanceHost>
{
    private const string TicketArguments = """{"customerId":"C-1001","subject":"Login","body":"Reset it from the sign-in page.","priority":"normal"}""";

    private static readonly Dictionary<string, ArgumentClass> TicketClasses = new(StringComparer.Ordinal)
    {
        ["subject"] = ArgumentClass.Data,
        ["body"] = ArgumentClass.Data,
    };

    private GovernanceHost Host => shared.Host;

    private static string Policy(string untrustedArguments) => $$"""
        { "enabled": true, "adminRole": "admin", "approverRoles": ["approver"],
          "roles": { "agent-user": { "tools": ["*"], "scopes": ["*"] } },
          "loopDetection": { "maxIdenticalCalls": 1000 },
          "untrustedArguments": {{untrustedArguments}} }
        """;

    private async Task<AgentPrincipal> TenantAsync(string untrustedArguments)
    {
        var tenant = TestInfrastructure.UniqueName("unt");
        await Host.PutPolicyAsync(tenant, Policy(untrustedArguments));
        return new AgentPrincipal(tenant, "alice", ["agent-user"]);
    }

    private static AuthorizeToolCall Ticket(AgentPrincipal user, params TaintedArgument[] tainted) =>
        GovernanceHost.Call(user, Guid.NewGuid(), "tickets.create", TicketArguments, SideEffectClass.Mutating, tainted: tainted.Length > 0, scope: "tickets.write")
        with
        { TaintedArguments = tainted.Length > 0 ? tainted : null, ArgumentClasses = TicketClasses };

    private static TaintedArgument Body(bool flagged = false) => new("/body", ["step:draft (model)", "step:kb (web.fetch)"], "Reset it from the sign-in page.", flagged);

    private static TaintedArgument Customer() => new("/customerId", ["step:kb (web.fetch)"], "C-1001");

    [Fact]
    public async Task Untrusted_data_in_a_data_argument_flows_where_the_policy_allows_it()
    {
        var user = await TenantAsync("""[{ "tool": "tickets.create", "class": "data", "decision": "allow" }]""");

        var result = await Host.AuthorizeAsync(Ticket(user, Body()));

        Assert.Equal(AuthorizationDecision.Allow, result.Decision);
    }

    [Fact]
    public async Task Without_a_rule_untrusted_data_in_a_mutating_call_still_needs_a_person()
    {
        var user = await TenantAsync("[]");

        var result = await Host.AuthorizeAsync(Ticket(user, Body()));

        Assert.Equal(AuthorizationDecision.RequireApproval, result.Decision);
        Assert.Contains("argument /body (data) carries untrusted content from step:draft (model), step:kb (web.fetch)", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Untrusted_content_in_a_control_argument_needs_a_person_even_where_data_may_flow()
    {
        var user = await TenantAsync("""[{ "tool": "tickets.create", "class": "data", "decision": "allow" }]""");

        var result = await Host.AuthorizeAsync(Ticket(user, Body(), Customer()));

        Assert.Equal(AuthorizationDecision.RequireApproval, result.Decision);
        Assert.Contains("argument /customerId (control)", result.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain("argument /body", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_policy_can_refuse_untrusted_content_in_control_arguments_outright()
    {
        var user = await TenantAsync("""[{ "tool": "tickets.*", "class": "control", "decision": "deny" }, { "class": "data", "decision": "allow" }]""");

        var result = await Host.AuthorizeAsync(Ticket(user, Customer()));

        Assert.Equal(AuthorizationDecision.Deny, result.Decision);
        Assert.Contains("argument /customerId (control)", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Content_flagged_as_instructions_to_an_agent_stops_at_the_gate_even_in_allowed_data()
    {
        var user = await TenantAsync("""[{ "tool": "tickets.create", "class": "data", "decision": "allow" }]""");

        var result = await Host.AuthorizeAsync(Ticket(user, Body(flagged: true)));

        Assert.Equal(AuthorizationDecision.RequireApproval, result.Decision);
        Assert.Contains("addresses instructions to an AI agent", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_caller_that_does_not_say_which_argument_is_tainted_gets_every_argument_treated_as_control()
    {
        var user = await TenantAsync("""[{ "class": "data", "decision": "allow" }]""");

        var result = await Host.AuthorizeAsync(Ticket(user) with { ArgumentsTainted = true });

        Assert.Equal(AuthorizationDecision.RequireApproval, result.Decision);
        Assert.Contains("the arguments (control)", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_read_only_tool_that_sends_data_out_with_an_untrusted_url_needs_a_person_and_one_that_does_not_is_allowed()
    {
        var user = await TenantAsync("[]");
        var url = new TaintedArgument("/url", ["step:kb (web.fetch)"], "http://kb/x?leak=C-1001");

        var egress = await Host.AuthorizeAsync(GovernanceHost.Call(user, Guid.NewGuid(), "web.fetch", """{"url":"http://kb/x?leak=C-1001"}""", tainted: true, scope: "web.read")
            with
        { TaintedArguments = [url], SendsDataOut = true });
        var read = await Host.AuthorizeAsync(GovernanceHost.Call(user, Guid.NewGuid(), "crm.lookup-customer", """{"customerId":"C-1001"}""", tainted: true, scope: "crm.read")
            with
        { TaintedArguments = [url with { Argument = "/customerId" }] });

        Assert.Equal(AuthorizationDecision.RequireApproval, egress.Decision);
        Assert.Contains("reaches a tool that sends data out", egress.Reason, StringComparison.Ordinal);
        Assert.Equal(AuthorizationDecision.Allow, read.Decision);
    }

    [Fact]
    public async Task The_approval_shows_which_argument_is_tainted_from_where_with_its_value()
    {
        var user = await TenantAsync("""[{ "tool": "tickets.create", "class": "data", "decision": "allow" }]""");
        var result = await Host.AuthorizeAsync(Ticket(user, Body(), Customer()));
        using var approver = Host.ClientFor(new AgentPrincipal(user.TenantId, "bob", ["approver"]));

        using var response = await approver.GetAsync(new Uri($"/api/governance/approvals/{result.ApprovalId}", UriKind.Relative));

        using var view = JsonDocument.Parse(await response.BodyAsync(HttpStatusCode.OK));
        var tainted = view.RootElement.GetProperty("taintedArguments").EnumerateArray().ToDictionary(e => e.GetProperty("argument").GetString()!);
        Assert.Equal(["/body", "/customerId"], tainted.Keys.Order());
        var customer = tainted["/customerId"];
        Assert.Equal("Control", customer.GetProperty("class").GetString());
        Assert.Equal("Approve", customer.GetProperty("decision").GetString());
        Assert.Equal(["step:kb (web.fetch)"], customer.GetProperty("sources").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("C-1001", customer.GetProperty("value").GetString());
        Assert.Equal("Allow", tainted["/body"].GetProperty("decision").GetString());
        Assert.Equal("Data", tainted["/body"].GetProperty("class").GetString());
    }

    [Theory]
    [InlineData("""{"untrustedArguments": [{ "class": "control", "decision": "allow" }]}""", "/untrustedArguments/0/decision", "never steer")]
    [InlineData("""{"untrustedArguments": [{ "decision": "allow" }]}""", "/untrustedArguments/0/class", "'class' is required")]
    [InlineData("""{"untrustedArguments": [{ "class": "content", "decision": "allow" }]}""", "/untrustedArguments/0/class", "Control, Data")]
    [InlineData("""{"untrustedArguments": [{ "class": "data", "decision": "maybe" }]}""", "/untrustedArguments/0/decision", "Allow, Approve, Deny")]
    [InlineData("""{"untrustedArguments": [{ "tool": "Tickets Create", "class": "data", "decision": "allow" }]}""", "/untrustedArguments/0/tool", "pattern")]
    [InlineData("""{"untrustedArguments": [{ "class": "data", "decision": "allow", "argument": "/body" }]}""", "/untrustedArguments/0/argument", "Unknown property")]
    [InlineData("""{"untrustedArguments": { "class": "data" }}""", "/untrustedArguments", "must be an array")]
    public void A_bad_untrusted_argument_rule_is_refused_naming_where_and_why(string fragment, string pointer, string message)
    {
        using var fragmentJson = JsonDocument.Parse(fragment);
        var json = Policy(fragmentJson.RootElement.GetProperty("untrustedArguments").GetRawText());

        var document = PolicyValidator.Validate(json, out var errors);

        Assert.Null(document);
        Assert.Contains(errors, e => e.Pointer == pointer && e.Message.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public void The_demo_policy_lets_untrusted_data_flow_into_ticket_bodies_and_nothing_else()
    {
        var demo = PolicyValidator.Validate(PolicyDefaults.DemoPolicyJson, out var errors);

        Assert.Empty(errors);
        var rule = Assert.Single(demo!.UntrustedArguments);
        Assert.Equal(new UntrustedArgumentRule("tickets.create", ArgumentClass.Data, UntrustedFlow.Allow), rule);
        Assert.Empty(PolicyDefaults.Default.UntrustedArguments);
    }

    [Fact]
    public async Task A_bad_rule_sent_to_the_policy_api_is_a_validation_problem()
    {
        var tenant = TestInfrastructure.UniqueName("unt");
        using var admin = Host.ClientFor(new AgentPrincipal(tenant, "policy-admin", ["admin"]));
        using var content = new StringContent(Policy("""[{ "class": "control", "decision": "allow" }]"""), System.Text.Encoding.UTF8, "application/json");

        using var response = await admin.PutAsync(new Uri("/api/governance/policy", UriKind.Relative), content);

        var body = await response.BodyAsync(HttpStatusCode.BadRequest);
        Assert.Contains("/untrustedArguments/0/decision", body, StringComparison.Ordinal);
    }
}
