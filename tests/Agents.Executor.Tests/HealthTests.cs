using Agents.Testing;

namespace Agents.Executor.Tests;

[Trait("Category", "Infrastructure")]
public sealed class HealthTests : ServiceHealthTests<Program>;
