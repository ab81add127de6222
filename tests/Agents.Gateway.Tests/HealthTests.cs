using System.Net;
using Agents.Testing;

namespace Agents.Gateway.Tests;

/// <summary>
/// The gateway owns no database or bus: it is ready when every backend cluster in its route table
/// answers <c>/health/live</c>.
/// </summary>
[Trait("Category", "Infrastructure")]
public sealed class HealthTests
{
    [Fact]
    public async Task Ready_answers_200_when_every_backend_is_live()
    {
        await using var backend = await EchoBackend.StartAsync();
        await using var factory = new ServiceFactory<Program>(EchoBackend.Settings(backend));
        using var client = factory.CreateClient();

        var body = await HealthAssertions.ReadyBecomesAsync(client, HttpStatusCode.OK);

        Assert.Contains("\"backends\":{\"status\":\"Healthy\"", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ready_answers_503_naming_the_backend_at_a_closed_port()
    {
        await using var backend = await EchoBackend.StartAsync();
        var settings = EchoBackend.Settings(backend);
        settings["ReverseProxy:Clusters:memory:Destinations:memory-1:Address"] = $"http://127.0.0.1:{TestInfrastructure.ClosedPort()}/";
        await using var factory = new ServiceFactory<Program>(settings);
        using var client = factory.CreateClient();

        var body = await HealthAssertions.ReadyStaysAsync(client, HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(2));

        Assert.Contains("Unreachable backends: memory", body, StringComparison.Ordinal);
    }
}
