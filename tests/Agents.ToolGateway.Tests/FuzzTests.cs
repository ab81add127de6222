using System.Net;
using Agents.ServiceDefaults.Identity;
using Agents.Testing;
using Agents.ToolGateway.Tests.Infrastructure;

namespace Agents.ToolGateway.Tests;

[Collection(ToolGatewayCollection.Name)]
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

        var (findings, requests) = await fuzzer.RunAsync(gateway.Factory.Services);

        Assert.True(findings.Count == 0, $"{findings.Count} of {requests} requests broke the rules:\n{string.Join('\n', findings)}");
        Assert.Contains(fuzzer.Routes(gateway.Factory.Services), r => r.Pattern.RawText == "/api/tools/{name}/circuit/reset");
        await HealthAssertions.ReadyBecomesAsync(gateway.Client, HttpStatusCode.OK, TimeSpan.FromSeconds(30));
    }
}
