using System.Net;
using Agents.ServiceDefaults.Identity;
using Agents.Testing;
using Agents.ToolGateway.Tests.Infrastructure;

namespace Agents.ToolGateway.Tests;

[Collection(ToolGatewayCollection.Name)]
[Trait("Category", "Infrastructure")]
public sealed class FuzzTests(ToolGatewayFixture gateway)
{
    [Fact]
    public async Task Every_route_answers_malformed_input_below_500_with_problem_details_and_the_service_stays_ready()
    {
        var principal = new Agents.Contracts.AgentPrincipal(ToolGatewayFixture.OperatorTenant, "fuzzer", ["agent-user", "admin"]);
        var fuzzer = new RouteFuzzer(() =>
        {
            var client = gateway.Factory.CreateClient();
            client.DefaultRequestHeaders.Add(PrincipalSigner.HeaderName, gateway.SignedPrincipal(principal));
            return client;
        });

        await fuzzer.AssertEveryRouteAnswersWellAsync(gateway.Factory.Services, "/api/tools/{name}/circuit/reset");

        await HealthAssertions.ReadyBecomesAsync(gateway.Client, HttpStatusCode.OK, TimeSpan.FromSeconds(30));
    }
}
