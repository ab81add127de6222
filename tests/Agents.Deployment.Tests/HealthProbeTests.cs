using System.Net;
using System.Net.Sockets;
using Agents.HealthProbe;

namespace Agents.Deployment.Tests;

/// <summary>The image HEALTHCHECK program against a real HTTP listener on loopback.</summary>
[Trait("Category", "Unit")]
public sealed class HealthProbeTests
{
    private static int FreePort()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }

    private static async Task<int> ProbeAgainstAsync(HttpStatusCode status)
    {
        var port = FreePort();
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        var serve = Task.Run(async () =>
        {
            var context = await listener.GetContextAsync();
            context.Response.StatusCode = (int)status;
            context.Response.Close();
        });

        var exit = await Probe.RunAsync([$"http://127.0.0.1:{port}/health/ready"], TextWriter.Null, CancellationToken.None);
        await serve.WaitAsync(TimeSpan.FromSeconds(10), CancellationToken.None);
        return exit;
    }

    [Fact]
    public async Task A_2xx_answer_is_healthy()
    {
        Assert.Equal(0, await ProbeAgainstAsync(HttpStatusCode.OK));
    }

    [Fact]
    public async Task A_503_answer_is_unhealthy()
    {
        Assert.Equal(1, await ProbeAgainstAsync(HttpStatusCode.ServiceUnavailable));
    }

    [Fact]
    public async Task Nothing_listening_is_unhealthy_and_says_why()
    {
        var error = new StringWriter();

        var exit = await Probe.RunAsync([$"http://127.0.0.1:{FreePort()}/health/live"], error, CancellationToken.None);

        Assert.Equal(1, exit);
        Assert.Contains("did not answer", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_malformed_url_is_a_usage_error()
    {
        Assert.Equal(2, await Probe.RunAsync(["not a url"], TextWriter.Null, CancellationToken.None));
    }
}
