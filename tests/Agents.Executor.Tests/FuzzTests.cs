using System.Net;
using Agents.Testing;

namespace Agents.Executor.Tests;

[Trait("Category", "Infrastructure")]
public sealed class FuzzTests(ExecutorApiFixture fixture) : IClassFixture<ExecutorApiFixture>
{
    [Fact]
    public async Task Every_route_answers_malformed_input_below_500_with_problem_details_and_the_service_stays_ready()
    {
        var tenant = TestInfrastructure.UniqueName("fuzz");
        var fuzzer = new RouteFuzzer(() => fixture.ClientFor(tenant, "fuzzer", "agent-user", "approver", "admin"));

        await fuzzer.AssertEveryRouteAnswersWellAsync(fixture.Factory.Services, "/api/tasks/{id:guid}/cancel");

        using var probe = fixture.Factory.CreateClient();
        await HealthAssertions.ReadyBecomesAsync(probe, HttpStatusCode.OK, TimeSpan.FromSeconds(30));
    }
}
