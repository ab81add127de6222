using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Agents.Contracts;
using Agents.Memory.Data;
using Agents.Memory.Embeddings;
using Agents.ServiceDefaults.Identity;
using Agents.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Agents.Memory.Tests.Infrastructure;

/// <summary>One MiniLM model of each kind for the whole test run (loading one takes about two seconds).</summary>
public static class SharedEmbeddings
{
    private static readonly Lazy<MiniLmEmbeddingGenerator> LazyGenerator = new(() => new MiniLmEmbeddingGenerator());
    private static readonly Lazy<MiniLmEmbeddingGenerator> LazyFloat = new(() => new MiniLmEmbeddingGenerator(int8: false));

    /// <summary>The service's default: 8-bit weights.</summary>
    public static MiniLmEmbeddingGenerator Generator => LazyGenerator.Value;

    /// <summary>The float model the package ships.</summary>
    public static MiniLmEmbeddingGenerator Float => LazyFloat.Value;

    public static MiniLmEmbeddingGenerator Of(bool int8) => int8 ? Generator : Float;
}

/// <summary>A memory service host with test settings and extra service registrations.</summary>
public sealed class MemoryFactory(IReadOnlyDictionary<string, string?> settings, Action<IServiceCollection> services) : ServiceFactory<Program>(WithoutLoadAtStart(settings))
{
    // A host of these tests loads its own model only when a test embeds through it (or asks for loading at start).
    private static Dictionary<string, string?> WithoutLoadAtStart(IReadOnlyDictionary<string, string?> settings)
    {
        var result = new Dictionary<string, string?>(settings);
        result.TryAdd("Memory:Embeddings:LoadAtStart", "false");
        return result;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureLogging(logging => logging.AddProvider(new ServerErrors()));
        builder.ConfigureTestServices(services);
    }
}

/// <summary>
/// The real memory service (in memory, through the test server) on its own PostgreSQL database and
/// queue prefix, against the real RabbitMQ, with the real MiniLM model and a fake clock.
/// </summary>
public class MemoryHost : IAsyncLifetime
{
    public const string SigningKey = "test-signing-key-0123456789-abcdefghijklmnop";

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter() } };

    private readonly List<MemoryFactory> _factories = [];

    public TestDatabase Database { get; private set; } = null!;

    public FakeTimeProvider Time { get; } = new(DateTimeOffset.UtcNow);

    /// <summary>Every model call of this host's replicas (the real model, counted).</summary>
    public CountingEmbeddingGenerator Embeddings { get; } = new(SharedEmbeddings.Generator);

    public MemoryFactory Factory => _factories[0];

    public IServiceProvider Services => Factory.Services;

    public string QueuePrefix { get; } = TestInfrastructure.UniqueName("mem");

    /// <summary>Extra settings for this host (override in a derived fixture).</summary>
    public Dictionary<string, string?> Settings { get; } = new()
    {
        ["Memory:ShortTerm:TokenLimit"] = "120",
        ["Memory:ShortTerm:KeepRecentMessages"] = "2",
        ["Memory:ShortTerm:SummaryMaxTokens"] = "60",
        ["Memory:Ttl:Semantic"] = "365.00:00:00",
        ["Memory:Ttl:Episodic"] = "180.00:00:00",
        ["Memory:Ttl:ShortTerm"] = "1.00:00:00",
        ["Messaging:Retry:Limit"] = "1",

        // Woken by each commit; the batch window would wait on the fake clock.
        ["Memory:Embedder:BatchWindow"] = "00:00:00",
    };

    public async Task InitializeAsync()
    {
        Database = await TestInfrastructure.CreateDatabaseAsync("memory");
        await using (var db = new MemoryDbContext(new DbContextOptionsBuilder<MemoryDbContext>().UseNpgsql(Database.ConnectionString).Options))
        {
            await db.Database.MigrateAsync();
        }

        var factory = StartReplica();
        using var client = factory.CreateClient();
        await HealthAssertions.ReadyBecomesAsync(client, HttpStatusCode.OK, TimeSpan.FromSeconds(30));
    }

    /// <summary>Starts another host on the same database and queue prefix (a second replica), with <paramref name="overrides"/> over <see cref="Settings"/>.</summary>
    public MemoryFactory StartReplica(IReadOnlyDictionary<string, string?>? overrides = null)
    {
        var settings = new Dictionary<string, string?>(Settings)
        {
            ["ConnectionStrings:Postgres"] = Database.ConnectionString,
            ["ConnectionStrings:RabbitMq"] = TestInfrastructure.RabbitMq,
            ["Messaging:QueuePrefix"] = QueuePrefix,
            ["Identity:SigningKey"] = SigningKey,
        };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        var factory = new MemoryFactory(settings, services =>
        {
            services.RemoveAll<TimeProvider>();
            services.AddSingleton<TimeProvider>(Time);
            services.RemoveAll<IEmbeddingGenerator<string, Embedding<float>>>();
            services.AddSingleton<IEmbeddingGenerator<string, Embedding<float>>>(Embeddings);
        });
        _factories.Add(factory);
        _ = factory.Server;
        return factory;
    }

    /// <summary>An HTTP client that sends every request with a freshly signed principal.</summary>
    public HttpClient ClientFor(AgentPrincipal principal, MemoryFactory? factory = null)
    {
        factory ??= Factory;
        var signer = factory.Services.GetRequiredService<PrincipalSigner>();
        return factory.CreateDefaultClient(new SigningHandler(signer, principal));
    }

    public static AgentPrincipal NewPrincipal(string? tenant = null, params string[] roles) =>
        new(tenant ?? TestInfrastructure.UniqueName("tenant"), TestInfrastructure.UniqueName("user"), roles);

    public async Task<T> WithDbAsync<T>(Func<MemoryDbContext, Task<T>> action)
    {
        await using var db = new MemoryDbContext(new DbContextOptionsBuilder<MemoryDbContext>().UseNpgsql(Database.ConnectionString).Options);
        return await action(db);
    }

    public async Task DisposeAsync()
    {
        foreach (var factory in _factories)
        {
            await factory.DisposeAsync();
        }

        await Database.DisposeAsync();
    }

    private sealed class SigningHandler(PrincipalSigner signer, AgentPrincipal principal) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Headers.Remove(PrincipalSigner.HeaderName);
            request.Headers.Add(PrincipalSigner.HeaderName, signer.Sign(principal));
            return base.SendAsync(request, cancellationToken);
        }
    }

}

/// <summary>
/// The real model, with its calls counted (texts per call, in order). Not disposed with a host: the shared
/// model outlives each host.
/// </summary>
public sealed class CountingEmbeddingGenerator(IEmbeddingGenerator<string, Embedding<float>> inner) : DelegatingEmbeddingGenerator<string, Embedding<float>>(inner)
{
    private readonly ConcurrentQueue<string[]> _calls = new();

    public int Calls => _calls.Count;

    /// <summary>The texts of each call, oldest first.</summary>
    public IReadOnlyList<string[]> Batches => _calls.ToArray();

    public override Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        var texts = values.ToArray();
        _calls.Enqueue(texts);
        return base.GenerateAsync(texts, options, cancellationToken);
    }

    protected override void Dispose(bool disposing)
    {
    }
}

[CollectionDefinition(Name)]
public sealed class MemoryHostCollection : ICollectionFixture<MemoryHost>
{
    public const string Name = "memory host";
}

public static class HttpExtensions
{
    public static async Task<T> ReadAsync<T>(this HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {body}{((int)response.StatusCode >= 500 ? ServerErrors.Describe() : string.Empty)}");
        return JsonSerializer.Deserialize<T>(body, MemoryHost.Json)!;
    }

    public static Task<HttpResponseMessage> PostJsonAsync<T>(this HttpClient client, string uri, T body) =>
        client.PostAsJsonAsync(uri, body, MemoryHost.Json);

    public static async Task<JsonElement> ProblemAsync(this HttpResponseMessage response, HttpStatusCode expected)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"expected {(int)expected}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    /// <summary>
    /// Probes until <paramref name="condition"/> holds for the value and returns that value; fails with the last value
    /// when it does not within <paramref name="within"/> (20 s).
    /// </summary>
    public static async Task<T> EventuallyAsync<T>(Func<Task<T>> probe, Func<T, bool> condition, TimeSpan? within = null)
    {
        T value = default!;
        await Poll.UntilAsync(
            async () => condition(value = await probe()),
            () => $"the awaited condition (last value: {value})",
            within ?? TimeSpan.FromSeconds(20));
        return value;
    }
}
