using Agents.Testing;

namespace Agents.ToolGateway.Tests;

public sealed class HealthTests : ServiceHealthTests<Program>;
