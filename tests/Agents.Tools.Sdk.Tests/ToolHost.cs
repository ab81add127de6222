using System.Collections.Concurrent;
using Agents.Contracts;
using Agents.ServiceDefaults;
using Agents.ServiceDefaults.Configuration;
using Agents.ServiceDefaults.Messaging;
using Agents.Testing;
using Agents.Tools.Sdk.Hosting;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace Agents.Tools.Sdk.Tests;

/// <summary>
/// A real tool host (generic host, the SDK, the real RabbitMQ and PostgreSQL) with the test tools,
/// plus a client bus that sends <see cref="ExecuteTool"/> requests and collects announcements.
/// </summary>
public sealed class ToolHost : IAsyncDisposable
{
    private readonly TestDatabase database;
    private readonly IBusControl client;

    private ToolHost(TestDatabase database, IHost host, IBusControl client, string prefix, string instance, ConcurrentQueue<ToolAnnounced> announcements)
    {
        this.database = database;
        Host = host;
        this.client = client;
        Prefix = prefix;
        Instance = instance;
        Announcements = announcements;
    }

    public IHost Host { get; }

    public string Prefix { get; }

    public string Instance { get; }

    public ConcurrentQueue<ToolAnnounced> Announcements { get; }

    public Effects Effects => Host.Services.GetRequiredService<Effects>();

    public string ConnectionString => database.ConnectionString;

    public static AgentPrincipal Alice { get; } = new("tenant-a", "alice", ["agent"]);

    public static AgentPrincipal Bob { get; } = new("tenant-b", "bob", ["agent"]);

    public static IHost Build(IDictionary<string, string?> settings, bool registerConsumers = true)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Testing" });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddServiceDefaults();
        builder.AddAgentsDatabase();
        builder.Services.AddSingleton<Effects>();
        builder.AddAgentsTool<Greet>();
        builder.AddAgentsTool<PlaceOrder>();
        builder.AddAgentsTool<Flaky>();
        builder.AddAgentsRuntimeTools();
        builder.AddAgentsBus(x =>
        {
            if (registerConsumers)
            {
                x.AddAgentsTools();
            }
        });
        return builder.Build();
    }

    public static async Task<ToolHost> StartAsync(Dictionary<string, string?>? extra = null)
    {
        var database = await TestInfrastructure.CreateDatabaseAsync("toolsdk");
        var prefix = TestInfrastructure.UniqueName("sdk");
        var instance = TestInfrastructure.UniqueName("instance");
        var settings = new Dictionary<string, string?>
        {
            [ConnectionStrings.PostgresKey] = database.ConnectionString,
            [ConnectionStrings.RabbitMqKey] = TestInfrastructure.RabbitMq,
            ["Messaging:QueuePrefix"] = prefix,
            ["Tools:Instance"] = instance,
            ["Tools:AnnounceInterval"] = "00:00:01",
            ["Tools:DuplicateWait"] = "00:00:20",
            // These tests check the ledger's rules with test.greet (ReadOnly) too; by default reads skip the ledger.
            ["Tools:LedgerReadOnlyCalls"] = "true",
        };
        foreach (var (key, value) in extra ?? [])
        {
            settings[key] = value;
        }

        var host = Build(settings);
        await host.Services.MigrateAgentsToolLedgerAsync();

        var announcements = new ConcurrentQueue<ToolAnnounced>();
        var broker = ConnectionStrings.ParseRabbitMq(TestInfrastructure.RabbitMq);
        var client = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.Host(broker.Host, broker.Port, broker.VirtualHost, h =>
            {
                h.Username(broker.Username);
                h.Password(broker.Password);
            });

            // The same conventions as the services (the prefix also names the exchanges).
            BusConventions.Apply(cfg, new BusOptions { QueuePrefix = prefix });
            cfg.ReceiveEndpoint(prefix + "-announcements", e =>
            {
                e.AutoDelete = true;
                e.Durable = false;
                e.Handler<ToolAnnounced>(context =>
                {
                    // Every instance under this host's queue prefix (a test may start a second instance beside it).
                    announcements.Enqueue(context.Message);

                    return Task.CompletedTask;
                });
            });
        });
        await client.StartAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
        await host.StartAsync();
        var toolHost = new ToolHost(database, host, client, prefix, instance, announcements);
        await toolHost.WaitForAsync(() => announcements.Count >= 3, TimeSpan.FromSeconds(30), "the first announcements");
        return toolHost;
    }

    public static ExecuteTool Call(string tool, string arguments, string key, AgentPrincipal? principal = null, bool compensate = false) =>
        new(Guid.NewGuid(), Guid.NewGuid(), "step-1", principal ?? Alice, tool, arguments, key, compensate);

    public static string NewKey() => "key-" + Guid.NewGuid().ToString("N");

    /// <summary>Publishes on the test bus (which uses the host's queue prefix and conventions).</summary>
    public Task PublishAsync<T>(T message)
        where T : class => client.Publish(message);

    public async Task<ToolExecutionResult> SendAsync(ExecuteTool request)
    {
        var address = new Uri($"queue:{ToolEndpoints.QueueName(request.Tool, Prefix)}");
        var requestClient = client.CreateRequestClient<ExecuteTool>(address, RequestTimeout.After(s: 30));
        var response = await requestClient.GetResponse<ToolExecutionResult>(request);
        Assert.Equal(request.CallId, response.Message.CallId);
        return response.Message;
    }

    public async Task<(string Status, int Attempts, int Executions, int Replays)> LedgerAsync(string tool, string key, string operation = "execute")
    {
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT status, attempts, executions, replays FROM tool_ledger WHERE tool = @t AND idempotency_key = @k AND operation = @o", connection);
        command.Parameters.AddWithValue("t", tool);
        command.Parameters.AddWithValue("k", key);
        command.Parameters.AddWithValue("o", operation);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync(), $"No ledger row for {tool}/{key}/{operation}.");
        return (reader.GetString(0), reader.GetInt32(1), reader.GetInt32(2), reader.GetInt32(3));
    }

    /// <summary>How many ledger rows the tool has (any key, any operation).</summary>
    public async Task<long> LedgerRowsAsync(string tool)
    {
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM tool_ledger WHERE tool = @t", connection);
        command.Parameters.AddWithValue("t", tool);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    public async Task ExecuteSqlAsync(string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        await command.ExecuteNonQueryAsync();
    }

    public Task WaitForAsync(Func<bool> condition, TimeSpan within, string what) =>
        Poll.UntilAsync(condition, within, what, TimeSpan.FromMilliseconds(50));

    public async ValueTask DisposeAsync()
    {
        await Host.StopAsync();
        Host.Dispose();
        await client.StopAsync();
        await database.DisposeAsync();
    }
}

/// <summary>One tool host shared by the tests of a class (each test uses its own idempotency keys).</summary>
public sealed class ToolHostFixture : IAsyncLifetime
{
    public ToolHost Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await ToolHost.StartAsync();

    public async Task DisposeAsync() => await Host.DisposeAsync();
}
