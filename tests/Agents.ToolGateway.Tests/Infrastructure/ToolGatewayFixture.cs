using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Agents.Contracts;
using Agents.Messaging.Data;
using Agents.ServiceDefaults.Identity;
using Agents.ServiceDefaults.Messaging;
using Agents.Testing;
using Agents.ToolGateway.Data;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Agents.ToolGateway.Tests.Infrastructure;

[CollectionDefinition(Name)]
public sealed class ToolGatewayCollection : ICollectionFixture<ToolGatewayFixture>
{
    public const string Name = "tool-gateway";
}

/// <summary>
/// The real tool-gateway host (its own migrated test database) on the real RabbitMQ, in a virtual host
/// of its own so that no other test run's services (or this run's gateway) see each other's messages,
/// plus a test bus carrying the governance and tool-service doubles and an observer of the answers.
/// Settings are small so retries, timeouts and the circuit's break take a moment only.
/// </summary>
public sealed class ToolGatewayFixture : IAsyncLifetime
{
    public const int MaxOutputBytes = 2048;
    public const int CircuitFailureThreshold = 3;
    public static readonly TimeSpan CircuitBreakDuration = TimeSpan.FromSeconds(1.5);

    /// <summary>The tenant whose admins operate the registry (ToolGateway:OperatorTenants).</summary>
    public const string OperatorTenant = "operators";

    /// <summary>ToolGateway:StaleAfter (the default).</summary>
    public static readonly TimeSpan StaleAfter = TimeSpan.FromMinutes(3);

    private readonly List<HostReceiveEndpointHandle> toolEndpoints = [];
    private TestVirtualHost? virtualHost;
    private TestDatabase? database;

    public string QueuePrefix { get; } = TestInfrastructure.UniqueName("tg");

    public ServiceFactory<Program> Factory { get; private set; } = null!;

    public HttpClient Client { get; private set; } = null!;

    public IBusControl TestBus { get; private set; } = null!;

    public GovernanceServiceDouble Governance { get; private set; } = null!;

    public BusObserver Observer { get; } = new();

    /// <summary>Messages the gateway's own consumers have finished (consumed or faulted), by message id.</summary>
    public ConsumedMessages Consumed { get; } = new();

    public string ConnectionString => database!.ConnectionString;

    public async Task InitializeAsync()
    {
        Governance = new GovernanceServiceDouble(QueuePrefix);
        virtualHost = await TestVirtualHost.CreateAsync("toolgateway");
        database = await TestInfrastructure.CreateDatabaseAsync("toolgateway");
        await using (var db = CreateDbContext())
        {
            await db.Database.MigrateAsync();
        }

        Factory = new ServiceFactory<Program>(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = database.ConnectionString,
            ["ConnectionStrings:RabbitMq"] = virtualHost.Uri,
            ["Messaging:QueuePrefix"] = QueuePrefix,
            ["Messaging:Retry:Limit"] = "2",
            ["Identity:SigningKey"] = "tool-gateway-tests-signing-key-0123456789",
            ["ToolGateway:MaxAttempts"] = "3",
            ["ToolGateway:BaseDelay"] = "00:00:00.020",
            ["ToolGateway:MaxDelay"] = "00:00:00.100",
            ["ToolGateway:CircuitFailureThreshold"] = CircuitFailureThreshold.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["ToolGateway:CircuitBreakDuration"] = CircuitBreakDuration.ToString(),
            ["ToolGateway:AuthorizationTimeout"] = "00:00:00.500",
            ["ToolGateway:AuthorizationPatience"] = "00:00:02",
            ["ToolGateway:DefaultToolTimeout"] = "00:00:02",
            ["ToolGateway:MaxToolTimeout"] = "00:00:05",
            ["ToolGateway:MaxOutputBytes"] = MaxOutputBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["ToolGateway:OperatorTenants:0"] = OperatorTenant,
            ["TenantAccess:Timeout"] = "00:00:01",
        });
        Client = Factory.CreateClient();
        Factory.Services.GetRequiredService<IBus>().ConnectConsumeObserver(Consumed);
        await HealthAssertions.ReadyBecomesAsync(Client, HttpStatusCode.OK, TimeSpan.FromSeconds(30));

        var broker = Agents.ServiceDefaults.Configuration.ConnectionStrings.ParseRabbitMq(virtualHost.Uri);
        TestBus = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.Host(broker.Host, broker.Port, broker.VirtualHost, h =>
            {
                h.Username(broker.Username);
                h.Password(broker.Password);
            });
            // The services prefix message-type exchanges with the queue prefix; the test bus must publish to the same ones.
            BusConventions.Apply(cfg, new BusOptions { QueuePrefix = QueuePrefix });
            cfg.ReceiveEndpoint(QueuePrefix + "-governance-double", e => e.Instance(Governance));
            cfg.ReceiveEndpoint(QueuePrefix + "-observer", e =>
            {
                // One message at a time, in the queue's order: a marker answer that arrived means all before it did.
                e.ConcurrentMessageLimit = 1;
                e.Instance(Observer);
            });
        });
        await TestBus.StartAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
    }

    public async Task DisposeAsync()
    {
        foreach (var handle in toolEndpoints)
        {
            await handle.StopAsync();
        }

        if (TestBus is not null)
        {
            await TestBus.StopAsync();
        }

        Client?.Dispose();
        if (Factory is not null)
        {
            await Factory.DisposeAsync();
        }

        if (database is not null)
        {
            await database.DisposeAsync();
        }

        if (virtualHost is not null)
        {
            await virtualHost.DisposeAsync();
        }
    }

    internal ToolGatewayDbContext CreateDbContext() =>
        new(new DbContextOptionsBuilder<ToolGatewayDbContext>().UseNpgsql(ConnectionString).Options);

    /// <summary>A new tenant with a principal the governance double allows (unless told otherwise).</summary>
    public AgentPrincipal NewPrincipal(bool allow = true)
    {
        var principal = new AgentPrincipal(TestInfrastructure.UniqueName("tenant"), "alice", ["agent-user"]);
        if (allow)
        {
            Governance.Allow(principal.TenantId);
        }

        return principal;
    }

    public string SignedPrincipal(AgentPrincipal principal) => Factory.Services.GetRequiredService<PrincipalSigner>().Sign(principal);

    public HttpRequestMessage Get(string path, AgentPrincipal? principal)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (principal is not null)
        {
            request.Headers.Add(PrincipalSigner.HeaderName, SignedPrincipal(principal));
        }

        return request;
    }

    /// <summary>Announces a tool and waits until the registry lists it.</summary>
    public async Task AnnounceAsync(ToolDescriptor tool, string instance = "test-instance-1", DateTimeOffset? at = null)
    {
        await TestBus.Publish(new ToolAnnounced(tool, instance, at ?? DateTimeOffset.UtcNow));
        var principal = new AgentPrincipal("registry-reader", "reader", ["admin"]);
        await Poll.UntilAsync(
            async () =>
            {
                using var response = await Client.SendAsync(Get("/api/tools/" + tool.Name, principal));
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    return false;
                }

                var body = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
                return body.GetProperty("version").GetString() == tool.Version && body.GetProperty("instance").GetString() == instance;
            },
            what: $"tool {tool.Name} {tool.Version} to be registered",
            every: TimeSpan.FromMilliseconds(50));
    }

    /// <summary>Starts a tool-service double on the queue the gateway sends <paramref name="toolName"/>'s calls to.</summary>
    public async Task<ToolServiceDouble> StartToolAsync(string toolName, Func<ExecuteTool, int, ToolExecutionResult?> behaviour)
    {
        var tool = new ToolServiceDouble(behaviour);
        var handle = TestBus.ConnectReceiveEndpoint(ToolEndpoints.QueueName(toolName, QueuePrefix), e =>
        {
            e.ConfigureConsumeTopology = false;
            e.Instance(tool);
        });
        await handle.Ready;
        toolEndpoints.Add(handle);
        return tool;
    }

    /// <summary>Publishes an InvokeTool (optionally with a given message id, as a redelivery has) and waits for its answer.</summary>
    public async Task<ToolCallCompleted> InvokeAsync(InvokeTool call, Guid? messageId = null, int expectedAnswers = 1)
    {
        await TestBus.Publish(call, context => context.MessageId = messageId ?? NewId.NextGuid());
        var answers = await Observer.WaitForAsync(call.TaskId, expectedAnswers);
        return answers[^1];
    }

    /// <summary>
    /// Every answer the gateway gave for <paramref name="taskId"/>, once none can still be on its way: no answer of the task
    /// is left in the gateway's outbox (a row is removed only once the broker confirmed it), and a marker answer published
    /// after that has reached the observer, whose queue is handled one message at a time in order.
    /// </summary>
    public async Task<IReadOnlyList<ToolCallCompleted>> SettledAnswersAsync(Guid taskId)
    {
        await Poll.UntilAsync(
            async () =>
            {
                await using var db = CreateDbContext();
                return !await db.Set<OutboxMessage>().AsNoTracking()
                    .AnyAsync(m => m.MessageType.Contains("ToolCallCompleted") && m.Body.Contains(taskId.ToString()));
            },
            what: $"the gateway's answers for task {taskId} to be sent",
            every: TimeSpan.FromMilliseconds(50));
        var marker = Guid.NewGuid();
        await TestBus.Publish(new ToolCallCompleted(marker, "marker", "marker", ToolCallOutcome.Succeeded, null, null, false, 0, 0));
        await Observer.WaitForAsync(marker);
        return Observer.For(taskId);
    }

    /// <summary>Waits until the gateway's consumers have finished <paramref name="messageId"/> <paramref name="count"/> times (all consumers together).</summary>
    public Task WaitForConsumedAsync(Guid messageId, int count) => Consumed.WaitForAsync(messageId, count, TimeSpan.FromSeconds(15));

    public static ToolDescriptor Tool(
        string name,
        SideEffectClass sideEffect = SideEffectClass.ReadOnly,
        string? inputSchema = null,
        int timeoutSeconds = 2,
        string version = "1.0.0",
        bool compensable = false) => new(
            name,
            "A tool used by the tool-gateway tests.",
            inputSchema ?? """{"type":"object","properties":{"query":{"type":"string"}},"required":["query"]}""",
            """{"type":"object"}""",
            sideEffect,
            RiskTier.Low,
            "tests.read",
            compensable,
            ReturnsUntrustedContent: false,
            timeoutSeconds,
            version);

    public static string UniqueToolName(string prefix) => TestInfrastructure.UniqueName(prefix).Replace('-', '.');

    public static InvokeTool Call(AgentPrincipal principal, string tool, string argumentsJson = """{"query":"acme"}""", bool tainted = false) =>
        new(Guid.NewGuid(), "step-1", principal, tool, argumentsJson, "key-" + Guid.NewGuid().ToString("N"), tainted, null);
}

/// <summary>
/// Counts the messages a bus's consumers finished (consumed or faulted), by message id, and keeps the type of every
/// message that came as the answer to one of the bus's requests, by request id.
/// </summary>
public sealed class ConsumedMessages : IConsumeObserver
{
    private readonly Dictionary<Guid, int> _counts = [];
    private readonly ConcurrentQueue<(Guid RequestId, Type Type)> _answers = new();

    /// <summary>The types of the answers the bus consumed for the request <paramref name="requestId"/>.</summary>
    public IReadOnlyList<Type> AnswersTo(Guid requestId) => [.. _answers.Where(a => a.RequestId == requestId).Select(a => a.Type)];

    public Task PreConsume<T>(ConsumeContext<T> context)
        where T : class => Task.CompletedTask;

    public Task PostConsume<T>(ConsumeContext<T> context)
        where T : class => Count(context);

    public Task ConsumeFault<T>(ConsumeContext<T> context, Exception exception)
        where T : class => Count(context);

    public Task WaitForAsync(Guid messageId, int count, TimeSpan within)
    {
        var seen = 0;
        return Poll.UntilAsync(
            () =>
            {
                lock (_counts)
                {
                    seen = _counts.GetValueOrDefault(messageId);
                }

                return seen >= count;
            },
            () => $"message {messageId} to be consumed {count} times (it was {seen} times)",
            within,
            TimeSpan.FromMilliseconds(50));
    }

    private Task Count<T>(ConsumeContext<T> context)
        where T : class
    {
        if (context.RequestId is { } requestId && (typeof(T) == typeof(ToolCallAuthorization) || typeof(T) == typeof(ToolExecutionResult)))
        {
            _answers.Enqueue((requestId, typeof(T)));
        }

        if (context.MessageId is { } id)
        {
            lock (_counts)
            {
                _counts[id] = _counts.GetValueOrDefault(id) + 1;
            }
        }

        return Task.CompletedTask;
    }
}
