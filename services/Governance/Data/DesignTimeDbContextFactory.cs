using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Agents.Governance.Data;

/// <summary>Lets <c>dotnet ef</c> create the context without starting the host.</summary>
internal sealed class DesignTimeDbContextFactory : IDesignTimeDbContextFactory<GovernanceDbContext>
{
    public GovernanceDbContext CreateDbContext(string[] args) => new(
        new DbContextOptionsBuilder<GovernanceDbContext>()
            .UseNpgsql("Host=127.0.0.1;Port=5432;Database=agents_governance;Username=agents;Password=agents")
            .Options);
}
