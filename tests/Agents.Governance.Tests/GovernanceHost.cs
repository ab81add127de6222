using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using Agents.Contracts;
using Agents.Governance.Consumers;
using Agents.Governance.Data;
using Agents.ServiceDefaults.Identity;
using Agents.ServiceDefaults.Messaging;
using Agents.Testing;
using MassTransit;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using System.Net;

namespace Agents.Governance.Tests;

/// <summary>The governance host against the real RabbitMQ and its own migrated PostgreSQL database.</summary>
public sealed class GovernanceHost : IAsyncDisposable
{
    public const string SigningKey = "governance-tests-signing-key-0123456789abcdef";

    private readonly bool ownsDatabase;
    private bool measureOften;
    private TimeSpan? watchdogInterval;
    private GovernanceFactory factory;

    private GovernanceHost(TestDatabase database, bool ownsDatabase, string queuePrefix, FakeTimeProvider? time, GovernanceFactory factory)
    {
        Database = database;
        this.ownsDatabase = ownsDatabase;
        QueuePrefix = queuePrefix;
        Time = time;
        this.factory = factory;
    }

    public TestDatabase Database { get; }

    public string QueuePrefix { get; }

    public FakeTimeProvider? Time { get; }

    public IServiceProvider Services => factory.Services;

    /// <param name="time">A clock the test moves, if any.</param>
    /// <param name="measureOften">Measure the metrics' gauges (database, broker queues) every second instead of every 30 s.</param>
    /// <param name="watchdogInterval">How often the watchdog judges the tenants (otherwise once an hour: other tests' bursts raise no alerts).</param>
    public static async Task<GovernanceHost> StartAsync(FakeTimeProvider? time = null, bool measureOften = false, TimeSpan? watchdogInterval = null)
    {
        var database = await TestInfrastructure.CreateDatabaseAsync("governance");
        await DatabaseMigrator.MigrateAsync(database.ConnectionString, time ?? TimeProvider.System);
        var prefix = TestInfrastructure.UniqueName("gov");
        var factory = await CreateFactoryAsync(database, prefix, time, measureOften, watchdogInterval);
        return new GovernanceHost(database, true, prefix, time, factory) { measureOften = measureOften, watchdogInterval = watchdogInterval };
    }

    /// <summary>Stops the host and starts a new one on the same database and queues (a process restart).</summary>
    public async Task RestartAsync()
    {
        await factory.DisposeAsync();

        // MassTransit keeps an ambient log context bound to the stopped host's logger factory.
        LogContext.Current = null;
        factory = await CreateFactoryAsync(Database, QueuePrefix, Time, measureOften, watchdogInterval);
    }

    public HttpClient ClientFor(AgentPrincipal principal)
    {
        var client = factory.CreateClient();
        var signer = factory.Services.GetRequiredService<PrincipalSigner>();
        client.DefaultRequestHeaders.Add(PrincipalSigner.HeaderName, signer.Sign(principal));
        return client;
    }

    public Task<ToolCallAuthorization> AuthorizeAsync(AuthorizeToolCall request) => AuthorizeAsync(request, null);

    public async Task<ToolCallAuthorization> AuthorizeAsync(AuthorizeToolCall request, Guid? messageId)
    {
        var client = Bus.CreateRequestClient<AuthorizeToolCall>(QueueOf<AuthorizeToolCallConsumer>(), RequestTimeout.After(s: 30));
        var response = await client.GetResponse<ToolCallAuthorization>(request, r => r.UseExecute(context =>
        {
            if (messageId is { } id)
            {
                context.MessageId = id;
            }
        }));
        return response.Message;
    }

    public async Task<ModelBudgetReservation> ReserveAsync(ReserveModelBudget request)
    {
        var client = Bus.CreateRequestClient<ReserveModelBudget>(QueueOf<ReserveModelBudgetConsumer>(), RequestTimeout.After(s: 30));
        var response = await client.GetResponse<ModelBudgetReservation>(request);
        return response.Message;
    }

    public async Task<TenantAccess> GetAccessAsync(string tenant)
    {
        var client = Bus.CreateRequestClient<GetTenantAccess>(QueueOf<GetTenantAccessConsumer>(), RequestTimeout.After(s: 30));
        var response = await client.GetResponse<TenantAccess>(new GetTenantAccess(tenant));
        return response.Message;
    }

    public async Task<object> AdmitAsync(AdmitTask request)
    {
        var client = Bus.CreateRequestClient<AdmitTask>(QueueOf<AdmitTaskConsumer>(), RequestTimeout.After(s: 30));
        var response = await client.GetResponse<TaskAdmitted, TaskRejected>(request);
        return response.Message;
    }

    public async Task SendAsync<TMessage, TConsumer>(TMessage message, Guid? messageId = null)
        where TMessage : class
        where TConsumer : class, IConsumer
    {
        var endpoint = await Bus.GetSendEndpoint(QueueOf<TConsumer>());
        await endpoint.Send(message, context =>
        {
            if (messageId is { } id)
            {
                context.MessageId = id;
            }
        });
    }

    /// <summary>
    /// Waits until the message <paramref name="messageId"/> is consumed (its inbox row is marked in the consumer's own
    /// transaction). Not a check of a redelivery of the same id: a batch consumer drops a duplicate id within a batch
    /// before the inbox sees it.
    /// </summary>
    public Task WaitUntilConsumedAsync(Guid messageId) =>
        Poll.UntilAsync(() => QueryAsync(db => db.Set<Agents.Messaging.Data.InboxState>()
            .AnyAsync(i => i.MessageId == messageId && i.Consumed != null)));

    /// <summary>
    /// Waits until the usage report sent as <paramref name="messageId"/> is in the ledger. The usage queue is taken one
    /// batch at a time, in the queue's order, so the reports sent to it before (a redelivered one too) have been handled
    /// by then: a report sent last is the signal that the ones before it are settled.
    /// </summary>
    public Task WaitUntilUsageRecordedAsync(Guid messageId) =>
        Poll.UntilAsync(
            () => QueryAsync(db => db.ProcessedMessages.AnyAsync(p => p.Key == $"usage:{messageId}")),
            what: $"the usage report {messageId} to be recorded");

    /// <summary>
    /// Waits until every message governance committed has been sent: no outbox row is left unsent (scheduled ones aside),
    /// and a row is marked sent only once the broker has confirmed it.
    /// </summary>
    public Task WaitUntilOutboxSentAsync() =>
        Poll.UntilAsync(
            async () => !await QueryAsync(db => db.Set<Agents.Messaging.Data.OutboxMessage>().AnyAsync(m => m.Delivered == null && m.DueTime == null)),
            what: "governance's outbox to send every message");

    public async Task PutPolicyAsync(string tenant, string json)
    {
        using var admin = ClientFor(new AgentPrincipal(tenant, "policy-admin", ["admin"]));
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await admin.PutAsync(new Uri("/api/governance/policy", UriKind.Relative), content);
        Assert.True(response.IsSuccessStatusCode, $"PUT policy answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    public async Task<T> QueryAsync<T>(Func<GovernanceDbContext, Task<T>> query)
    {
        await using var scope = factory.Services.CreateAsyncScope();
        return await query(scope.ServiceProvider.GetRequiredService<GovernanceDbContext>());
    }

    public IBus Bus => factory.Services.GetRequiredService<IBus>();

    public async ValueTask DisposeAsync()
    {
        await factory.DisposeAsync();
        if (ownsDatabase)
        {
            await Database.DisposeAsync();
        }
    }

    public static string Hash(string argumentsJson) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(argumentsJson)));

    public static AuthorizeToolCall Call(
        AgentPrincipal principal,
        Guid taskId,
        string tool,
        string arguments = "{}",
        SideEffectClass sideEffect = SideEffectClass.ReadOnly,
        RiskTier risk = RiskTier.Low,
        string scope = "",
        bool tainted = false,
        IReadOnlyList<string>? taskAllowed = null,
        Guid? approvalId = null,
        string stepId = "s1") =>
        new(taskId, stepId, principal, tool, sideEffect, risk, scope, arguments, Hash(arguments), tainted, taskAllowed, approvalId);

    public Uri QueueOf<TConsumer>()
        where TConsumer : class, IConsumer =>
        new("queue:" + BusConventions.EndpointNameFormatter(new BusOptions { QueuePrefix = QueuePrefix }).Consumer<TConsumer>());

    private static async Task<GovernanceFactory> CreateFactoryAsync(TestDatabase database, string prefix, FakeTimeProvider? time, bool measureOften, TimeSpan? watchdogInterval)
    {
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = database.ConnectionString,
            ["ConnectionStrings:RabbitMq"] = TestInfrastructure.RabbitMq,
            ["Messaging:QueuePrefix"] = prefix,
            ["Messaging:Retry:Limit"] = "3",

            // Sent outbox rows are kept (marked delivered), so that tests can read what governance sent.
            ["Messaging:Durable:RemoveSentRows"] = "false",
            ["Identity:SigningKey"] = SigningKey,
            ["Governance:SweepInterval"] = "00:00:00.200",
            ["Governance:WatchdogInterval"] = (watchdogInterval ?? TimeSpan.FromHours(1)).ToString("c", System.Globalization.CultureInfo.InvariantCulture),
            ["Logging:LogLevel:Default"] = "Warning",
        };
        if (measureOften)
        {
            settings["Governance:MetricsInterval"] = "00:00:01";
            settings["Messaging:QueueMetrics:Interval"] = "00:00:01";
        }

        var factory = new GovernanceFactory(settings, time);
        using var client = factory.CreateClient();
        await HealthAssertions.ReadyBecomesAsync(client, HttpStatusCode.OK, TimeSpan.FromSeconds(30));
        return factory;
    }

    private sealed class GovernanceFactory(IReadOnlyDictionary<string, string?> settings, FakeTimeProvider? time) : ServiceFactory<Program>(settings)
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            if (time is not null)
            {
                builder.ConfigureTestServices(services => services.AddSingleton<TimeProvider>(time));
            }
        }
    }
}

/// <summary>One governance host shared by the tests of a class (each test uses its own tenant).</summary>
public sealed class SharedGovernanceHost : IAsyncLifetime
{
    public GovernanceHost Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await GovernanceHost.StartAsync();

    public async Task DisposeAsync() => await Host.DisposeAsync();
}

public static class HttpAssertions
{
    public static async Task<T> ReadAsync<T>(this HttpResponseMessage response, HttpStatusCode expected)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"Expected {(int)expected}, got {(int)response.StatusCode}: {body}");
        return (await response.Content.ReadFromJsonAsync<T>())!;
    }

    public static async Task<string> BodyAsync(this HttpResponseMessage response, HttpStatusCode expected)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"Expected {(int)expected}, got {(int)response.StatusCode}: {body}");
        Assert.Equal(expected >= HttpStatusCode.BadRequest ? "application/problem+json" : response.Content.Headers.ContentType?.MediaType, response.Content.Headers.ContentType?.MediaType);
        return body;
    }
}
