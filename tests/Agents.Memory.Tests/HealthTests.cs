using Agents.Testing;

namespace Agents.Memory.Tests;

public sealed class HealthTests : ServiceHealthTests<Program>;
