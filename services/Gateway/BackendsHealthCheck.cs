using Microsoft.Extensions.Diagnostics.HealthChecks;
using Yarp.ReverseProxy;

namespace Agents.Gateway;

/// <summary>
/// The gateway is ready when it can forward: every cluster in its route table has at least one
/// destination whose <c>/health/live</c> answers. A cluster with no live destination makes it
/// unready, with the cluster named in the reason.
/// </summary>
internal sealed class BackendsHealthCheck(IProxyStateLookup proxyState, IHttpClientFactory httpClients) : IHealthCheck
{
    public const string HttpClientName = "backends-health";

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var client = httpClients.CreateClient(HttpClientName);
        var clusters = proxyState.GetClusters().ToList();
        var results = await Task.WhenAll(clusters.Select(async cluster =>
        {
            foreach (var destination in cluster.Destinations.Values)
            {
                if (await IsLiveAsync(client, destination.Model.Config.Address, cancellationToken))
                {
                    return (cluster.ClusterId, Live: true);
                }
            }

            return (cluster.ClusterId, Live: false);
        }));

        var down = results.Where(r => !r.Live).Select(r => r.ClusterId).ToList();
        return down.Count == 0
            ? HealthCheckResult.Healthy($"{results.Length} backend clusters reachable")
            : new HealthCheckResult(context.Registration.FailureStatus, "Unreachable backends: " + string.Join(", ", down));
    }

    private static async Task<bool> IsLiveAsync(HttpClient client, string address, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await client.GetAsync(new Uri(new Uri(address), "health/live"), cancellationToken);
            return response.IsSuccessStatusCode;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }
}
