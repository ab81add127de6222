using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Npgsql.EntityFrameworkCore.PostgreSQL.Infrastructure;

namespace Agents.Messaging.Data;

/// <summary>
/// How the EF Core tools (<c>dotnet ef migrations add</c>) create a service's <typeparamref name="TContext"/> without
/// starting the service: the development database <paramref name="database"/> on this machine's PostgreSQL (what
/// <c>infra/local.sh</c> creates). Each service declares one subclass that names its database; nothing at run time uses it.
/// </summary>
public abstract class LocalDesignTimeFactory<TContext>(string database) : IDesignTimeDbContextFactory<TContext>
    where TContext : DbContext
{
    /// <summary>The connection string of the development database.</summary>
    public string ConnectionString { get; } = $"Host=127.0.0.1;Port=5432;Database={database};Username=agents;Password=agents";

    /// <summary>A context on the development database (the tools' arguments are not used).</summary>
    public TContext CreateDbContext(string[] args)
    {
        var options = new DbContextOptionsBuilder<TContext>().UseNpgsql(ConnectionString, Configure).Options;
        return (TContext)Activator.CreateInstance(typeof(TContext), options)!;
    }

    /// <summary>Provider settings the service's context needs at design time too (its migrations history table, say).</summary>
    protected virtual void Configure(NpgsqlDbContextOptionsBuilder npgsql)
    {
    }
}
