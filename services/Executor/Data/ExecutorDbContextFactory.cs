using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Agents.Executor.Data;

/// <summary>Lets <c>dotnet ef</c> create migrations without starting the service.</summary>
internal sealed class ExecutorDbContextFactory : IDesignTimeDbContextFactory<ExecutorDbContext>
{
    public ExecutorDbContext CreateDbContext(string[] args) => new(new DbContextOptionsBuilder<ExecutorDbContext>()
        .UseNpgsql("Host=127.0.0.1;Database=agents_executor;Username=agents;Password=agents")
        .Options);
}
