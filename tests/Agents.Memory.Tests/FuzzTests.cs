using System.Net;
using Agents.Memory.Tests.Infrastructure;
using Agents.Testing;

namespace Agents.Memory.Tests;

[Collection(MemoryHostCollection.Name)]
[Trait("Category", "Infrastructure")]
public sealed class FuzzTests(MemoryHost host)
{
    [Fact]
    public async Task Every_route_answers_malformed_input_below_500_with_problem_details_and_the_service_stays_ready()
    {
        var principal = MemoryHost.NewPrincipal(null, "agent-user", "approver", "admin");
        var fuzzer = new RouteFuzzer(() => host.ClientFor(principal));

        await fuzzer.AssertEveryRouteAnswersWellAsync(host.Services, "/api/memories/recall");

        using var probe = host.Factory.CreateClient();
        await HealthAssertions.ReadyBecomesAsync(probe, HttpStatusCode.OK, TimeSpan.FromSeconds(30));
    }
}
