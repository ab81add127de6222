using System.Net;
using Agents.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace Agents.Gateway.Tests;

/// <summary>
/// The gateway owns no database or bus: it is ready when every backend cluster in its route table
/// answers <c>/health/live</c>.
/// </summary>
public sealed class HealthTests
{
    private static readonly string[] Clusters = ["executor", "planner", "toolgateway", "memory", "governance"];

    [Fact]
    public async Task Ready_answers_200_when_every_backend_is_live()
    {
        await using var backend = await StartLiveBackendAsync();
        await using var factory = new ServiceFactory<Program>(PointClustersAt(backend.Urls.First()));
        using var client = factory.CreateClient();

        var body = await HealthAssertions.ReadyBecomesAsync(client, HttpStatusCode.OK);

        Assert.Contains("\"backends\":{\"status\":\"Healthy\"", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ready_answers_503_naming_the_backend_at_a_closed_port()
    {
        await using var backend = await StartLiveBackendAsync();
        var settings = PointClustersAt(backend.Urls.First());
        settings["ReverseProxy:Clusters:memory:Destinations:memory-1:Address"] = $"http://127.0.0.1:{TestInfrastructure.ClosedPort()}/";
        await using var factory = new ServiceFactory<Program>(settings);
        using var client = factory.CreateClient();

        var body = await HealthAssertions.ReadyStaysAsync(client, HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(2));

        Assert.Contains("Unreachable backends: memory", body, StringComparison.Ordinal);
    }

    private static Dictionary<string, string?> PointClustersAt(string url) =>
        Clusters.ToDictionary(c => $"ReverseProxy:Clusters:{c}:Destinations:{c}-1:Address", string? (_) => url + "/");

    /// <summary>A real HTTP server on loopback standing in for a backend service's liveness endpoint.</summary>
    private static async Task<WebApplication> StartLiveBackendAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.MapGet("/health/live", () => Results.Ok());
        await app.StartAsync();
        return app;
    }
}
