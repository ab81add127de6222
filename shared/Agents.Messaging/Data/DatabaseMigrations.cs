using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Npgsql;

namespace Agents.Messaging.Data;

/// <summary>How every service applies its EF Core migrations (its <c>migrate</c> step).</summary>
public static class DatabaseMigrations
{
    /// <summary>
    /// Applies the pending migrations, after checking that every migration the database already has is one this build
    /// knows. A database migrated by a schema this build no longer carries (a development database from before the
    /// migrations were squashed into one <c>Initial</c>) would otherwise fail half-way with "relation already exists";
    /// it is refused with what to do instead, before anything changes.
    /// </summary>
    public static async Task ApplyMigrationsAsync(this DatabaseFacade database, CancellationToken cancellationToken = default)
    {
        var known = database.GetMigrations().ToHashSet(StringComparer.Ordinal);
        List<string> unknown;
        try
        {
            unknown = (await database.GetAppliedMigrationsAsync(cancellationToken)).Where(m => !known.Contains(m)).ToList();
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedColumn)
        {
            // The history table itself has the earlier layout (PascalCase "MigrationId").
            throw Refused(database, "a migrations history of an earlier layout", e);
        }

        if (unknown.Count > 0)
        {
            throw Refused(database, $"migrations this build does not know ({string.Join(", ", unknown)})", null);
        }

        await database.MigrateAsync(cancellationToken);
    }

    private static InvalidOperationException Refused(DatabaseFacade database, string what, Exception? inner) => new(
        $"Database '{database.GetDbConnection().Database}' has {what}: it was made by an earlier, unreleased schema. " +
        "Drop it and migrate again (on a development machine: infra/local.sh reset-databases, which loses its data).",
        inner);
}
