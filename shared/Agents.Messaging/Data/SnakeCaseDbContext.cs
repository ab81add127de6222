using Microsoft.EntityFrameworkCore;

namespace Agents.Messaging.Data;

/// <summary>
/// The one naming scheme of every service database: tables, columns, keys and indexes in snake_case
/// (<c>EFCore.NamingConventions</c>), so hand-written SQL reads the same everywhere (<c>tenant_id</c>, never
/// <c>"TenantId"</c>). Applied in <see cref="OnConfiguring"/>, so a context made by a test or a benchmark with options
/// of its own has the same model as the service's. The messaging library's own tables name their columns themselves
/// (<see cref="MessagingModelBuilderExtensions"/>), whatever the host's convention.
/// </summary>
public abstract class SnakeCaseDbContext(DbContextOptions options) : DbContext(options)
{
    /// <inheritdoc />
    protected override void OnConfiguring(DbContextOptionsBuilder optionsBuilder) => optionsBuilder.UseSnakeCaseNamingConvention();
}
