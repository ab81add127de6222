using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Agents.Testing;

/// <summary>
/// The API-reference contract of every service: <c>/openapi/v1.json</c> is valid OpenAPI and describes every endpoint the
/// service maps under <c>/api</c>, with what each answers. A service's test project inherits it for its own <c>Program</c>.
/// </summary>
public abstract class ServiceApiDocumentTests<TProgram>
    where TProgram : class
{
    protected virtual string DatabasePrefix => typeof(TProgram).Assembly.GetName().Name!.Split('.').Last().ToLowerInvariant();

    [Fact]
    public async Task Api_document_is_valid_openapi_and_describes_every_mapped_endpoint()
    {
        await using var database = await TestInfrastructure.CreateDatabaseAsync(DatabasePrefix);
        await using var factory = new ServiceFactory<TProgram>(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = database.ConnectionString,
            ["ConnectionStrings:RabbitMq"] = TestInfrastructure.RabbitMq,
            ["Messaging:QueuePrefix"] = TestInfrastructure.UniqueName("openapi"),
            ["Identity:SigningKey"] = "openapi-tests-signing-key-0123456789abcdef",
        });
        using var client = factory.CreateClient();

        var document = OpenApiAssertions.AssertValid(await client.GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative)));
        var endpoints = OpenApiAssertions.ApiEndpoints(factory.Services.GetRequiredService<EndpointDataSource>());

        Assert.NotEmpty(endpoints);
        OpenApiAssertions.AssertDescribes(document, endpoints);

        // Exact, not vague: every operation says what it answers with a body (a schema for its success or problem details).
        var vague = (document["paths"] as System.Text.Json.Nodes.JsonObject ?? [])
            .SelectMany(p => (p.Value as System.Text.Json.Nodes.JsonObject ?? []).Select(o => (Path: p.Key, Method: o.Key, Operation: o.Value)))
            .Where(o => o.Operation?["responses"] is not System.Text.Json.Nodes.JsonObject responses
                || !responses.Any(r => r.Value?["content"] is System.Text.Json.Nodes.JsonObject { Count: > 0 }))
            .Select(o => $"{o.Method.ToUpperInvariant()} {o.Path}")
            .ToList();
        Assert.True(vague.Count == 0, "Operations that describe no response body: " + string.Join(", ", vague));
    }
}
