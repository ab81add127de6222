using Agents.Testing;

namespace Agents.Planner.Tests;

[Trait("Category", "Infrastructure")]
public sealed class HealthTests : ServiceHealthTests<Program>
{
    protected override ServiceFactory<Program> CreateFactory(string postgres, string rabbitMq) => new(new Dictionary<string, string?>
    {
        ["ConnectionStrings:Postgres"] = postgres,
        ["ConnectionStrings:RabbitMq"] = rabbitMq,
        ["Messaging:QueuePrefix"] = TestInfrastructure.UniqueName("health"),
        ["Identity:SigningKey"] = PlannerFixture.SigningKey,
    });
}
