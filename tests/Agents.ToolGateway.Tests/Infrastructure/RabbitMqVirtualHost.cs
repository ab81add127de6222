using System.Net.Http.Headers;
using System.Text;
using Agents.ServiceDefaults.Configuration;

namespace Agents.ToolGateway.Tests.Infrastructure;

/// <summary>
/// A RabbitMQ virtual host made for one test run through the management API (127.0.0.1:15672) and
/// deleted afterwards. Message-type exchanges are global within a virtual host, so without it other
/// services' tests on the same broker would receive this gateway's AuthorizeToolCall and InvokeTool
/// messages (and answer them). When the management API is unreachable the broker's own virtual host
/// is used and isolation rests on queue prefixes and per-test tenants.
/// </summary>
public sealed class RabbitMqVirtualHost : IAsyncDisposable
{
    private readonly HttpClient? management;
    private readonly string? name;

    private RabbitMqVirtualHost(string uri, HttpClient? management, string? name)
    {
        Uri = uri;
        this.management = management;
        this.name = name;
    }

    public string Uri { get; }

    public static async Task<RabbitMqVirtualHost> CreateAsync(string brokerUri, string name)
    {
        var broker = ConnectionStrings.ParseRabbitMq(brokerUri);
        var client = new HttpClient { BaseAddress = new Uri($"http://{broker.Host}:15672/"), Timeout = TimeSpan.FromSeconds(10) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(
            "Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(broker.Username + ":" + broker.Password)));
        try
        {
            using var created = await client.PutAsync(new Uri("api/vhosts/" + name, UriKind.Relative), null);
            created.EnsureSuccessStatusCode();
            using var permissions = new StringContent("""{"configure":".*","write":".*","read":".*"}""", Encoding.UTF8, "application/json");
            using var granted = await client.PutAsync(new Uri($"api/permissions/{name}/{System.Uri.EscapeDataString(broker.Username)}", UriKind.Relative), permissions);
            granted.EnsureSuccessStatusCode();
            var scheme = broker.UseTls ? "amqps" : "amqp";
            var uri = $"{scheme}://{System.Uri.EscapeDataString(broker.Username)}:{System.Uri.EscapeDataString(broker.Password)}@{broker.Host}:{broker.Port}/{name}";
            return new RabbitMqVirtualHost(uri, client, name);
        }
        catch (HttpRequestException)
        {
            client.Dispose();
            return new RabbitMqVirtualHost(brokerUri, null, null);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (management is not null && name is not null)
        {
            try
            {
                using var _ = await management.DeleteAsync(new Uri("api/vhosts/" + name, UriKind.Relative));
            }
            catch (HttpRequestException)
            {
                // Best effort: a leftover virtual host is empty and harmless.
            }

            management.Dispose();
        }
    }
}
