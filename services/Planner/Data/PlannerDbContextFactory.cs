using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Agents.Planner.Data;

/// <summary>Lets <c>dotnet ef</c> build the model without starting the service.</summary>
internal sealed class PlannerDbContextFactory : IDesignTimeDbContextFactory<PlannerDbContext>
{
    public PlannerDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<PlannerDbContext>()
            .UseNpgsql("Host=127.0.0.1;Database=agents_planner;Username=agents;Password=agents")
            .Options);
}
