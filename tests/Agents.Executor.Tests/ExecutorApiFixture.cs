using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Agents.Contracts;
using Agents.Executor.Data;
using Agents.ServiceDefaults.Identity;
using Agents.Testing;
using MassTransit;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Agents.Executor.Tests;

/// <summary>
/// One executor host for the API tests: its own PostgreSQL database (migrated like production, by the EF
/// migrations) and the real RabbitMQ, in a virtual host of its own so that other services' consumers on the
/// shared broker (which bind to the same message-type exchanges) never answer these tasks. Tests isolate their
/// data by tenant.
/// </summary>
public sealed class ExecutorApiFixture : IAsyncLifetime
{
    public const string SigningKey = "executor-tests-signing-key-0123456789abcdef";

    /// <summary>The only tenant the fixture's named model <c>restricted</c> serves.</summary>
    public const string RestrictedModelTenant = "tenant-with-restricted-model";

    private TestDatabase? _database;
    private TestVirtualHost? _virtualHost;
    private WebApplicationFactory<Program>? _factory;
    private StandInServices? _planner;
    private PrincipalSigner? _signer;

    public static JsonSerializerOptions Json { get; } = CreateJson();

    /// <summary>The broker URI (the tests' virtual host) and the host's settings, for tests that start another host.</summary>
    public string Broker { get; private set; } = string.Empty;

    public IReadOnlyDictionary<string, string?> Settings { get; private set; } = new Dictionary<string, string?>();

    public PrincipalSigner Signer => _signer ?? throw new InvalidOperationException("Not started.");

    public string ConnectionString => _database?.ConnectionString ?? throw new InvalidOperationException("Not started.");

    public WebApplicationFactory<Program> Factory => _factory ?? throw new InvalidOperationException("Not started.");

    public async Task InitializeAsync()
    {
        _virtualHost = await TestVirtualHost.CreateAsync("executor");
        _database = await TestInfrastructure.CreateDatabaseAsync("executor");
        await using (var db = new ExecutorDbContext(new DbContextOptionsBuilder<ExecutorDbContext>().UseNpgsql(_database.ConnectionString).Options))
        {
            await db.Database.MigrateAsync();
        }

        Broker = _virtualHost.Uri;
        var prefix = TestInfrastructure.UniqueName("exapi");

        // The planner's submission-time validation of templates and steps (test double); the tests play the rest.
        _planner = await StandInServices.StartAsync(Broker, prefix, runServices: false);
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = _database.ConnectionString,
            ["ConnectionStrings:RabbitMq"] = Broker,
            ["Messaging:QueuePrefix"] = prefix,
            ["Identity:SigningKey"] = SigningKey,
            ["Executor:EventStreamPollInterval"] = "00:00:00.050",

            // The models library's deterministic provider (the default), priced so that cost accounting shows.
            ["Models:Prices:deterministic:InputPerMillion"] = "1000",
            ["Models:Prices:deterministic:OutputPerMillion"] = "1000",

            // A second model, configured by name, that a step or a what-if replay may choose (short answers, dearer).
            ["Models:Named:candidate:Model"] = "candidate-model",
            ["Models:Named:candidate:MaxOutputTokens"] = "8",
            ["Models:Prices:candidate-model:InputPerMillion"] = "3000",
            ["Models:Prices:candidate-model:OutputPerMillion"] = "3000",
            ["Models:Named:restricted:Model"] = "restricted-model",
            ["Models:Named:restricted:Tenants:0"] = RestrictedModelTenant,
        };
        Settings = settings;
        _factory = new ServiceFactory<Program>(settings);
        _signer = new PrincipalSigner(Options.Create(new IdentityOptions { SigningKey = SigningKey }), TimeProvider.System);
        using var client = _factory.CreateClient();
        await HealthAssertions.ReadyBecomesAsync(client, System.Net.HttpStatusCode.OK, TimeSpan.FromSeconds(30));
    }

    public async Task DisposeAsync()
    {
        if (_factory is not null)
        {
            await _factory.DisposeAsync();
        }

        if (_planner is not null)
        {
            await _planner.DisposeAsync();
        }

        if (_database is not null)
        {
            await _database.DisposeAsync();
        }

        if (_virtualHost is not null)
        {
            await _virtualHost.DisposeAsync();
        }
    }

    /// <summary>A client that calls as <paramref name="tenant"/>/<paramref name="user"/> with <paramref name="roles"/> (default 'agent-user'), as if through the gateway.</summary>
    public HttpClient ClientFor(string tenant, string user = "user-1", params string[] roles)
    {
        var client = Factory.CreateClient();
        client.DefaultRequestHeaders.Add(PrincipalSigner.HeaderName, _signer!.Sign(new AgentPrincipal(tenant, user, roles.Length > 0 ? roles : ["agent-user"])));
        return client;
    }

    public Task PublishAsync<T>(T message)
        where T : class => Factory.Services.GetRequiredService<IBus>().Publish(message);

    public static async Task<Guid> SubmitAsync(HttpClient client, object body, string? idempotencyKey = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/tasks") { Content = JsonContent.Create(body, options: Json) };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.Accepted, $"POST /api/tasks answered {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!["id"]!.GetValue<Guid>();
    }

    /// <summary>Polls GET /api/tasks/{id} until <paramref name="condition"/> holds; returns the last body.</summary>
    public static async Task<JsonNode> WaitForTaskAsync(HttpClient client, Guid id, Func<JsonNode, bool> condition, string because)
    {
        JsonNode? task = null;
        await Poll.UntilAsync(
            async () => condition(task = JsonNode.Parse(await client.GetStringAsync(new Uri($"/api/tasks/{id}", UriKind.Relative)))!),
            () => $"task {id}: {because}. Last: {task?.ToJsonString()}",
            TimeSpan.FromSeconds(20),
            TimeSpan.FromMilliseconds(50));
        return task!;
    }

    private static JsonSerializerOptions CreateJson()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        return options;
    }
}
