using System.Net.Http.Json;

namespace Agents.Testing;

/// <summary>
/// A RabbitMQ virtual host of its own for one test fixture, made through the broker's management API
/// (port 15672 on the broker's host, or AGENTS_TEST_RABBITMQ_MANAGEMENT) and deleted, with every queue
/// and exchange in it, on dispose. Message-type exchanges are shared within a virtual host, so a
/// fixture that plays another service's part needs one to keep other suites' messages away; and a
/// deleted virtual host leaves nothing on the broker for the next restart to recover.
/// Names start with <see cref="NamePrefix"/> so that <c>./dev.sh test</c> can sweep leftovers of a run
/// that was killed before its fixtures were disposed.
/// </summary>
public sealed class TestVirtualHost : IAsyncDisposable
{
    public const string NamePrefix = "agents-test-";

    private readonly HttpClient management;

    private TestVirtualHost(HttpClient management, string name, string uri)
    {
        this.management = management;
        Name = name;
        Uri = uri;
    }

    public string Name { get; }

    /// <summary>The AMQP URI of the test broker with this virtual host as its path.</summary>
    public string Uri { get; }

    public static async Task<TestVirtualHost> CreateAsync(string purpose)
    {
        var broker = new Uri(TestInfrastructure.RabbitMq);
        var user = TestInfrastructure.RabbitMqUser;
        var client = TestInfrastructure.RabbitMqManagement();

        var name = TestInfrastructure.UniqueName(NamePrefix + purpose);
        try
        {
            using (var created = await client.PutAsync(new Uri("api/vhosts/" + name, UriKind.Relative), null))
            {
                created.EnsureSuccessStatusCode();
            }

            using var granted = await client.PutAsJsonAsync(
                new Uri($"api/permissions/{name}/{System.Uri.EscapeDataString(user)}", UriKind.Relative),
                new { configure = ".*", write = ".*", read = ".*" });
            granted.EnsureSuccessStatusCode();
        }
        catch (HttpRequestException e)
        {
            client.Dispose();
            throw new InvalidOperationException(
                $"Could not create the test virtual host '{name}' through the RabbitMQ management API at {client.BaseAddress} " +
                "(infra/local.sh up enables it; AGENTS_TEST_RABBITMQ_MANAGEMENT points elsewhere).", e);
        }

        var uri = new UriBuilder(broker) { Path = "/" + name }.Uri.ToString();
        return new TestVirtualHost(client, name, uri);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            using var _ = await management.DeleteAsync(new Uri("api/vhosts/" + Name, UriKind.Relative));
        }
        catch (HttpRequestException)
        {
            // Left for ./dev.sh test to sweep: the broker may already be gone at the end of a run.
        }
        catch (TaskCanceledException)
        {
            // As above: a slow broker must not fail the fixture's disposal.
        }

        management.Dispose();
    }
}
