using Agents.Testing;

namespace Agents.Governance.Tests;

public sealed class HealthTests : ServiceHealthTests<Program>;
