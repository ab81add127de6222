using Agents.Contracts;
using Agents.Planner.Data;
using Agents.Planner.Planning;
using Agents.Planner.Templates;
using Agents.ServiceDefaults.Identity;
using Agents.Testing;
using MassTransit;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace Agents.Planner.Tests;

/// <summary>
/// One planner host for the integration tests: its own PostgreSQL database (migrated and seeded first), its own
/// RabbitMQ virtual host (so no other test run's consumers see these messages), the fake planner model, and the
/// sample tools announced over the bus.
/// </summary>
public sealed class PlannerFixture : IAsyncLifetime
{
    public const string SigningKey = "planner-tests-signing-key-0123456789abcdef";

    private TestVirtualHost? virtualHost;
    private TestDatabase? database;
    private PlannerFactory? factory;

    internal FakePlannerModel Model { get; } = new();

    public string ConnectionString => database!.ConnectionString;

    public IServiceProvider Services => factory!.Services;

    public IBus Bus => Services.GetRequiredService<IBus>();

    public async Task InitializeAsync()
    {
        virtualHost = await TestVirtualHost.CreateAsync("planner");

        database = await TestInfrastructure.CreateDatabaseAsync("planner");
        await using (var db = CreateDbContext())
        {
            await db.Database.MigrateAsync();
            await new TemplateStore(db, TimeProvider.System).SeedAsync(CancellationToken.None);
        }

        factory = new PlannerFactory(
            new Dictionary<string, string?>
            {
                ["ConnectionStrings:Postgres"] = database.ConnectionString,
                ["ConnectionStrings:RabbitMq"] = virtualHost.Uri,
                ["Messaging:QueuePrefix"] = "planner-test",
                ["Messaging:Retry:Limit"] = "1",
                ["Identity:SigningKey"] = SigningKey,
                ["Planner:MaxPlanAttempts"] = "3",
                ["Planner:MaxRevisions"] = "1",
                ["Planner:MaxSteps"] = "10",
            },
            Model);
        // Start the host and wait for its bus: announcements published before the planner's queue is bound
        // to the exchange would reach nobody (the host does not wait for the broker at start).
        await factory.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(60));

        foreach (var tool in SampleTools.All)
        {
            await Bus.Publish(new ToolAnnounced(tool, "test-instance", DateTimeOffset.UtcNow));
        }

        await Poll.UntilAsync(async () =>
        {
            await using var db = CreateDbContext();
            return await db.CatalogTools.CountAsync() == SampleTools.All.Count;
        });
    }

    internal PlannerDbContext CreateDbContext() =>
        new(new DbContextOptionsBuilder<PlannerDbContext>().UseNpgsql(ConnectionString).Options);

    /// <summary>Sends <paramref name="request"/> over RabbitMQ and returns the planner's answer.</summary>
    public async Task<(PlanCreated? Created, PlanRejected? Rejected)> PlanAsync<TRequest>(TRequest request)
        where TRequest : class
    {
        var client = Bus.CreateRequestClient<TRequest>(RequestTimeout.After(s: 30));
        var response = await client.GetResponse<PlanCreated, PlanRejected>(request);
        return response.Is(out Response<PlanCreated>? created) ? (created!.Message, null)
            : response.Is(out Response<PlanRejected>? rejected) ? (null, rejected!.Message)
            : throw new InvalidOperationException("unexpected response");
    }

    public HttpClient CreateClient(AgentPrincipal? principal)
    {
        var client = factory!.CreateClient();
        if (principal is not null)
        {
            client.DefaultRequestHeaders.Add(PrincipalSigner.HeaderName, Services.GetRequiredService<PrincipalSigner>().Sign(principal));
        }

        return client;
    }

    public async Task DisposeAsync()
    {
        if (factory is not null)
        {
            await factory.DisposeAsync();
        }

        if (database is not null)
        {
            await database.DisposeAsync();
        }

        if (virtualHost is not null)
        {
            await virtualHost.DisposeAsync();
        }

        Model.Dispose();
    }

    private sealed class PlannerFactory(IReadOnlyDictionary<string, string?> settings, IChatClient model) : ServiceFactory<Program>(settings)
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureTestServices(services => services.AddKeyedSingleton(ModelPlanner.ModelKey, model));
        }
    }
}

[CollectionDefinition(Name)]
public sealed class PlannerCollection : ICollectionFixture<PlannerFixture>
{
    public const string Name = "planner";
}
