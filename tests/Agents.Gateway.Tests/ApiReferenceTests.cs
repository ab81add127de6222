using System.Net;
using System.Text.Json.Nodes;
using Agents.Testing;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Agents.Gateway.Tests;

[Trait("Category", "Infrastructure")]
public sealed class ApiReferenceTests
{
    [Fact]
    public async Task The_aggregated_document_is_valid_describes_the_gateways_own_endpoints_and_names_backends_without_a_document()
    {
        // The echo backend serves no OpenAPI document: every backend is named unavailable, the gateway's own part remains.
        await using var backend = await EchoBackend.StartAsync();
        await using var factory = new ServiceFactory<Program>(EchoBackend.Settings(backend));
        using var client = factory.CreateClient();

        var document = OpenApiAssertions.AssertValid(await client.GetStringAsync(new Uri("/openapi/agents.json", UriKind.Relative)));

        // The forwarded routes (any method, /api/tasks/{**rest}, ...) are described by the backends' documents: each
        // service's tests check its own, the end-to-end tests the merge. Here: the gateway's own endpoints.
        var own = OpenApiAssertions.ApiEndpoints(factory.Services.GetRequiredService<EndpointDataSource>()).Where(e => e.Method != "*").ToList();
        Assert.Contains(own, e => e.Path == "/api/dead-letters/{service}/{queue}/{messageId}/redeliver" && e.Method == "POST");
        OpenApiAssertions.AssertDescribes(document, own);
        var unavailable = document["info"]!["x-agents-unavailable"]!.AsArray().Select(n => n!.GetValue<string>()).Order().ToArray();
        Assert.Equal(["executor", "governance", "memory", "planner", "toolgateway"], unavailable);
        Assert.Equal("apiKey", document["components"]!["securitySchemes"]!["ApiKey"]!["type"]!.GetValue<string>());
        Assert.Null(document["components"]!["securitySchemes"]!["Bearer"]);
    }

    [Fact]
    public async Task Dead_letters_at_the_gateway_are_refused_to_a_caller_without_an_admin_role_and_to_no_one_anonymous()
    {
        await using var backend = await EchoBackend.StartAsync();
        await using var factory = new ServiceFactory<Program>(EchoBackend.Settings(backend));
        using var anonymous = factory.CreateClient();
        using var alice = factory.CreateClient();
        alice.DefaultRequestHeaders.Add("X-Api-Key", "demo-alice-agent-user-key");

        using var refused = await alice.GetAsync(new Uri("/api/dead-letters/executor/task-run", UriKind.Relative));
        using var unauthenticated = await anonymous.GetAsync(new Uri("/api/dead-letters", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.Contains("platform-operator", JsonNode.Parse(await refused.Content.ReadAsStringAsync())!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, unauthenticated.StatusCode);
    }
}
