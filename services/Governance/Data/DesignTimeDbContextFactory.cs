using Agents.Messaging.Data;

namespace Agents.Governance.Data;

/// <summary>Lets <c>dotnet ef</c> create the context without starting the host.</summary>
internal sealed class DesignTimeDbContextFactory() : LocalDesignTimeFactory<GovernanceDbContext>("agents_governance");
