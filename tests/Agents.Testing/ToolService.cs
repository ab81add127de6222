using Agents.Contracts;
using Agents.ServiceDefaults.Configuration;
using Agents.ServiceDefaults.Identity;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Agents.Testing;

/// <summary>
/// A sample tool service started in memory against the real RabbitMQ and PostgreSQL (own database,
/// migrated by the service's own migrate step; own queue prefix), and a client bus that calls it.
/// </summary>
public sealed class ToolService<TEntry> : IAsyncDisposable
    where TEntry : class
{
    public const string SigningKey = "tools-tests-signing-key-0123456789abcdef";

    private readonly TestDatabase database;
    private readonly IBusControl client;

    private ToolService(TestDatabase database, ServiceFactory<TEntry> factory, IBusControl client, string prefix)
    {
        this.database = database;
        Factory = factory;
        this.client = client;
        Prefix = prefix;
    }

    public ServiceFactory<TEntry> Factory { get; }

    public string Prefix { get; }

    public static AgentPrincipal Demo { get; } = new("demo", "dana", ["support"]);

    public static async Task<ToolService<TEntry>> StartAsync(
        string name,
        Func<IServiceProvider, Task> migrate,
        Dictionary<string, string?>? extra = null,
        Action<ServiceFactory<TEntry>>? configure = null)
    {
        var database = await TestInfrastructure.CreateDatabaseAsync(name);
        var prefix = TestInfrastructure.UniqueName(name);
        var settings = new Dictionary<string, string?>
        {
            [ConnectionStrings.PostgresKey] = database.ConnectionString,
            [ConnectionStrings.RabbitMqKey] = TestInfrastructure.RabbitMq,
            ["Messaging:QueuePrefix"] = prefix,
            ["Identity:SigningKey"] = SigningKey,
        };
        foreach (var (key, value) in extra ?? [])
        {
            settings[key] = value;
        }

        var factory = new ServiceFactory<TEntry>(settings);
        configure?.Invoke(factory);
        await migrate(factory.Services);

        var broker = ConnectionStrings.ParseRabbitMq(TestInfrastructure.RabbitMq);
        var client = Bus.Factory.CreateUsingRabbitMq(cfg => cfg.Host(broker.Host, broker.Port, broker.VirtualHost, h =>
        {
            h.Username(broker.Username);
            h.Password(broker.Password);
        }));
        await client.StartAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
        return new ToolService<TEntry>(database, factory, client, prefix);
    }

    public static ExecuteTool Call(string tool, string arguments, string? key = null, AgentPrincipal? principal = null, bool compensate = false) =>
        new(Guid.NewGuid(), Guid.NewGuid(), "step-1", principal ?? Demo, tool, arguments, key ?? "key-" + Guid.NewGuid().ToString("N"), compensate);

    public async Task<ToolExecutionResult> SendAsync(ExecuteTool request)
    {
        var address = new Uri($"queue:{ToolEndpoints.QueueName(request.Tool, Prefix)}");
        var response = await client.CreateRequestClient<ExecuteTool>(address, RequestTimeout.After(s: 30))
            .GetResponse<ToolExecutionResult>(request);
        return response.Message;
    }

    public HttpClient CreateClient(AgentPrincipal? principal)
    {
        var http = Factory.CreateClient();
        if (principal is not null)
        {
            var signer = Factory.Services.GetRequiredService<PrincipalSigner>();
            http.DefaultRequestHeaders.Add(PrincipalSigner.HeaderName, signer.Sign(principal));
        }

        return http;
    }

    public async Task<long> ScalarAsync(string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        await Factory.DisposeAsync();
        await client.StopAsync();
        await database.DisposeAsync();
    }
}
