using Agents.Testing;

namespace Agents.Governance.Tests;

[Trait("Category", "Infrastructure")]
public sealed class HealthTests : ServiceHealthTests<Program>
{
    // The API verifies signed principals, so the service needs its signing key to start.
    protected override ServiceFactory<Program> CreateFactory(string postgres, string rabbitMq) => new(new Dictionary<string, string?>
    {
        ["ConnectionStrings:Postgres"] = postgres,
        ["ConnectionStrings:RabbitMq"] = rabbitMq,
        ["Messaging:QueuePrefix"] = TestInfrastructure.UniqueName("health"),
        ["Identity:SigningKey"] = GovernanceHost.SigningKey,
    });
}
