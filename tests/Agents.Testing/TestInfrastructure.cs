using Npgsql;

namespace Agents.Testing;

/// <summary>
/// Where the real test infrastructure is (started by <c>infra/local.sh up</c>), and helpers that
/// give each test its own database and queue prefix so tests run in parallel and reruns start clean.
/// Override with AGENTS_TEST_POSTGRES (a connection string to any database the user may create
/// databases from) and AGENTS_TEST_RABBITMQ (an AMQP URI).
/// </summary>
public static class TestInfrastructure
{
    public static string PostgresServer { get; } =
        Environment.GetEnvironmentVariable("AGENTS_TEST_POSTGRES")
        ?? "Host=127.0.0.1;Port=5432;Database=postgres;Username=agents;Password=agents";

    public static string RabbitMq { get; } =
        Environment.GetEnvironmentVariable("AGENTS_TEST_RABBITMQ") ?? "amqp://agents:agents@127.0.0.1:5672/";

    /// <summary>The user of <see cref="RabbitMq"/> (also the management API's).</summary>
    public static string RabbitMqUser => Uri.UnescapeDataString(new Uri(RabbitMq).UserInfo.Split(':', 2)[0]);

    /// <summary>The virtual host of <see cref="RabbitMq"/> as the management API names it ("/" for the default one).</summary>
    public static string RabbitMqVirtualHost =>
        Uri.UnescapeDataString(new Uri(RabbitMq).AbsolutePath.TrimStart('/')) is { Length: > 0 } vhost ? vhost : "/";

    /// <summary>
    /// A client of the test broker's management API (AGENTS_TEST_RABBITMQ_MANAGEMENT, else port 15672 of the broker's
    /// host), signed in with the user and password of <see cref="RabbitMq"/>. The caller disposes it.
    /// </summary>
    public static HttpClient RabbitMqManagement()
    {
        var broker = new Uri(RabbitMq);
        var credentials = broker.UserInfo.Split(':', 2);
        var password = credentials.Length > 1 ? Uri.UnescapeDataString(credentials[1]) : string.Empty;
        var address = Environment.GetEnvironmentVariable("AGENTS_TEST_RABBITMQ_MANAGEMENT") ?? $"http://{broker.Host}:15672/";
        var client = new HttpClient { BaseAddress = new Uri(address.EndsWith('/') ? address : address + "/"), Timeout = TimeSpan.FromSeconds(15) };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue(
            "Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{RabbitMqUser}:{password}")));
        return client;
    }

    private static readonly HashSet<int> HandedOut = [];

    /// <summary>
    /// A TCP port on 127.0.0.1 where nothing listens, for a server a test starts. It is drawn below the kernel's
    /// ephemeral range (32768 and up on Linux), so no outgoing connection (to PostgreSQL, RabbitMQ, another test's
    /// client) can take it between now and the moment the server binds it; never the same port twice in one process.
    /// </summary>
    public static int ClosedPort()
    {
        for (var attempt = 0; attempt < 1000; attempt++)
        {
            var port = Random.Shared.Next(20_000, 32_000);
            lock (HandedOut)
            {
                if (!HandedOut.Add(port))
                {
                    continue;
                }
            }

            try
            {
                using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, port);
                listener.Start();
                listener.Stop();
                return port;
            }
            catch (System.Net.Sockets.SocketException)
            {
                // Someone listens there: draw again.
            }
        }

        throw new InvalidOperationException("No free TCP port between 20000 and 32000 on 127.0.0.1.");
    }

    /// <summary>A short unique lower-case name (letters, digits, '-') for queues, tenants and the like.</summary>
    public static string UniqueName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];

    /// <summary>Creates an empty database owned by the test user; dropped when disposed.</summary>
    public static async Task<TestDatabase> CreateDatabaseAsync(string prefix = "test")
    {
        var name = $"t_{prefix}_{Guid.NewGuid():N}".ToLowerInvariant();
        name = name.Length > 60 ? name[..60] : name;
        await using (var connection = new NpgsqlConnection(PostgresServer))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await command.ExecuteNonQueryAsync();
        }

        var builder = new NpgsqlConnectionStringBuilder(PostgresServer) { Database = name };
        return new TestDatabase(name, builder.ConnectionString);
    }
}

/// <summary>A database created for one test (or one test class); dropped, with its connections, on dispose.</summary>
public sealed class TestDatabase(string name, string connectionString) : IAsyncDisposable
{
    public string Name { get; } = name;

    public string ConnectionString { get; } = connectionString;

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(TestInfrastructure.PostgresServer);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{Name}\" WITH (FORCE)", connection);

        // PostgreSQL 15 refuses a forced drop while an autovacuum worker is in the new database (the
        // worker has no role the test user may signal: 42501); the worker leaves within moments, so
        // try again for a while before giving up.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await command.ExecuteNonQueryAsync();
                return;
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InsufficientPrivilege && attempt < 50)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200));
            }
        }
    }
}
