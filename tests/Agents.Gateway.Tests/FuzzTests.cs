using System.Net;
using Agents.Testing;

namespace Agents.Gateway.Tests;

[Trait("Category", "Infrastructure")]
public sealed class FuzzTests
{
    [Fact]
    public async Task Every_route_answers_malformed_input_below_500_with_problem_details_and_the_gateway_stays_ready()
    {
        // The backends are an echo (the services' own answers are fuzzed in their tests): this walks the gateway's
        // checks and forwarding. /mcp answers JSON-RPC errors by its protocol, not problem details: it is left out.
        await using var backend = await EchoBackend.StartAsync();
        await using var factory = new ServiceFactory<Program>(EchoBackend.Settings(backend));
        var fuzzer = new RouteFuzzer(() =>
        {
            var client = factory.CreateClient();
            client.DefaultRequestHeaders.Add("X-Api-Key", "demo-carol-admin-key");
            return client;
        })
        {
            Excluded = ["/health/live", "/health/ready", "/mcp"],
        };

        await fuzzer.AssertEveryRouteAnswersWellAsync(factory.Services, "/api/tools/{**rest}");

        using var probe = factory.CreateClient();
        using var ready = await probe.GetAsync(new Uri("/health/live", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }
}
