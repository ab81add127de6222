using System.Net;
using Xunit;

namespace Agents.Testing;

/// <summary>
/// The health contract every service with a database and a bus must meet: ready (200) against the
/// real RabbitMQ and PostgreSQL, not ready (503) when either is at a closed port. A service's test
/// project inherits these facts for its own <c>Program</c>.
/// </summary>
public abstract class ServiceHealthTests<TProgram>
    where TProgram : class
{
    protected virtual string DatabasePrefix => typeof(TProgram).Assembly.GetName().Name!.Split('.').Last().ToLowerInvariant();

    [Fact]
    public async Task Ready_answers_200_with_real_rabbitmq_and_postgresql()
    {
        await using var database = await TestInfrastructure.CreateDatabaseAsync(DatabasePrefix);
        await using var factory = CreateFactory(database.ConnectionString, TestInfrastructure.RabbitMq);
        using var client = factory.CreateClient();

        var body = await HealthAssertions.ReadyBecomesAsync(client, HttpStatusCode.OK);

        Assert.Contains("\"postgres\":{\"status\":\"Healthy\"", body, StringComparison.Ordinal);
        Assert.Contains("\"masstransit-bus\":{\"status\":\"Healthy\"", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ready_answers_503_when_rabbitmq_is_at_a_closed_port()
    {
        await using var database = await TestInfrastructure.CreateDatabaseAsync(DatabasePrefix);
        var closedBroker = $"amqp://agents:agents@127.0.0.1:{TestInfrastructure.ClosedPort()}/";
        await using var factory = CreateFactory(database.ConnectionString, closedBroker);
        using var client = factory.CreateClient();

        var body = await HealthAssertions.ReadyStaysAsync(client, HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(4), b => b.Contains("\"postgres\":{\"status\":\"Healthy\"", StringComparison.Ordinal));

        Assert.Contains("\"postgres\":{\"status\":\"Healthy\"", body, StringComparison.Ordinal);
        Assert.Contains("\"masstransit-bus\":{\"status\":\"Unhealthy\"", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ready_answers_503_when_postgresql_is_at_a_closed_port()
    {
        var closedDatabase = $"Host=127.0.0.1;Port={TestInfrastructure.ClosedPort()};Database=none;Username=agents;Password=agents;Timeout=2";
        await using var factory = CreateFactory(closedDatabase, TestInfrastructure.RabbitMq);
        using var client = factory.CreateClient();

        // Wait until the bus is connected, so that the database is the only reason left for 503.
        var body = await HealthAssertions.ReadyStaysAsync(client, HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(2), b => b.Contains("\"masstransit-bus\":{\"status\":\"Healthy\"", StringComparison.Ordinal));

        Assert.Contains("\"postgres\":{\"status\":\"Unhealthy\"", body, StringComparison.Ordinal);
        Assert.Contains("\"masstransit-bus\":{\"status\":\"Healthy\"", body, StringComparison.Ordinal);
    }

    protected virtual ServiceFactory<TProgram> CreateFactory(string postgres, string rabbitMq) => new(new Dictionary<string, string?>
    {
        ["ConnectionStrings:Postgres"] = postgres,
        ["ConnectionStrings:RabbitMq"] = rabbitMq,
        ["Messaging:QueuePrefix"] = TestInfrastructure.UniqueName("health"),
        ["Identity:SigningKey"] = "health-tests-signing-key-0123456789abcdef",
    });
}
