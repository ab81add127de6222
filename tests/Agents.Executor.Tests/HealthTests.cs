using Agents.Testing;

namespace Agents.Executor.Tests;

public sealed class HealthTests : ServiceHealthTests<Program>;
