using System.Net;
using Agents.Contracts;
using Agents.Testing;

namespace Agents.Planner.Tests;

[Collection(PlannerCollection.Name)]
[Trait("Category", "Infrastructure")]
public sealed class FuzzTests(PlannerFixture fixture)
{
    [Fact]
    public async Task Every_route_answers_malformed_input_below_500_with_problem_details_and_the_service_stays_ready()
    {
        var principal = new AgentPrincipal(TestInfrastructure.UniqueName("fuzz"), "fuzzer", ["agent-user", "approver", "admin"]);
        var fuzzer = new RouteFuzzer(() => fixture.CreateClient(principal));

        await fuzzer.AssertEveryRouteAnswersWellAsync(fixture.Services, "/api/templates/{name}");

        using var probe = fixture.CreateClient(null);
        await HealthAssertions.ReadyBecomesAsync(probe, HttpStatusCode.OK, TimeSpan.FromSeconds(30));
    }
}
