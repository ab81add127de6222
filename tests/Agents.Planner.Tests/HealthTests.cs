using Agents.Testing;

namespace Agents.Planner.Tests;

public sealed class HealthTests : ServiceHealthTests<Program>;
