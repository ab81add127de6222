using Agents.Contracts;
using Agents.ServiceDefaults.Identity;
using Agents.Gateway.Security;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy;

namespace Agents.Gateway.Mcp;

/// <summary>
/// Calls the platform's services on behalf of an MCP caller, as the proxied routes do: to the cluster's
/// address from the <c>ReverseProxy</c> configuration (or a tool host's from <c>Gateway:ToolHosts</c>), with the caller
/// as the signed principal.
/// </summary>
internal sealed class PlatformBackends(IHttpClientFactory clients, IProxyStateLookup proxy, PrincipalSigner signer, IOptions<GatewayOptions> options)
{
    public const string HttpClientName = "mcp-backends";

    public async Task<HttpResponseMessage> SendAsync(string cluster, HttpMethod method, string path, AgentPrincipal principal, HttpContent? content, CancellationToken cancellationToken, string? idempotencyKey = null)
    {
        using var request = new HttpRequestMessage(method, new Uri(Address(cluster), path)) { Content = content };
        request.Headers.TryAddWithoutValidation(PrincipalSigner.HeaderName, signer.Sign(principal));
        if (idempotencyKey is not null)
        {
            request.Headers.TryAddWithoutValidation("Idempotency-Key", idempotencyKey);
        }

        return await clients.CreateClient(HttpClientName).SendAsync(request, cancellationToken);
    }

    private Uri Address(string cluster)
    {
        if (!proxy.TryGetCluster(cluster, out var state))
        {
            if (options.Value.ToolHosts.TryGetValue(cluster, out var toolHost))
            {
                return new Uri(toolHost);
            }

            throw new InvalidOperationException($"The gateway has no '{cluster}' cluster in ReverseProxy:Clusters.");
        }

        var destinations = state.DestinationsState.AvailableDestinations.Count > 0
            ? state.DestinationsState.AvailableDestinations
            : state.DestinationsState.AllDestinations;
        var destination = destinations.Count > 0
            ? destinations[Random.Shared.Next(destinations.Count)]
            : throw new InvalidOperationException($"The '{cluster}' cluster has no destination.");
        return new Uri(destination.Model.Config.Address);
    }
}
