using System.Net;
using Agents.Contracts;
using Agents.Testing;

namespace Agents.Governance.Tests;

[Trait("Category", "Infrastructure")]
public sealed class FuzzTests(SharedGovernanceHost shared) : IClassFixture<SharedGovernanceHost>
{
    [Fact]
    public async Task Every_route_answers_malformed_input_below_500_with_problem_details_and_the_service_stays_ready()
    {
        var principal = new AgentPrincipal(TestInfrastructure.UniqueName("fuzz"), "fuzzer", ["agent-user", "approver", "admin"]);
        var fuzzer = new RouteFuzzer(() => shared.Host.ClientFor(principal));

        await fuzzer.AssertEveryRouteAnswersWellAsync(shared.Host.Services, "/api/governance/policy");

        using var probe = shared.Host.ClientFor(principal);
        await HealthAssertions.ReadyBecomesAsync(probe, HttpStatusCode.OK, TimeSpan.FromSeconds(30));
    }
}
