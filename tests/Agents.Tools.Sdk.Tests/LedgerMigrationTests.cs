using Agents.Messaging.Data;
using Agents.Testing;
using Agents.Tools.Sdk.Ledger;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Agents.Tools.Sdk.Tests;

[Trait("Category", "Infrastructure")]
public sealed class LedgerMigrationTests
{
    [Fact]
    public async Task A_fresh_database_gets_the_ledger_in_snake_case()
    {
        await using var database = await TestInfrastructure.CreateDatabaseAsync("ledgermig");
        await using (var db = Create(database))
        {
            await db.Database.ApplyMigrationsAsync();
            await db.Database.ApplyMigrationsAsync();
        }

        var columns = await ColumnsAsync(database, ToolLedgerDbContext.TableName);
        Assert.Contains("idempotency_key", columns);
        Assert.Contains("arguments_hash", columns);
        Assert.All(columns, c => Assert.Equal(c.ToLowerInvariant(), c));
    }

    [Theory]
    [InlineData("MigrationId", "ProductVersion")]
    [InlineData("migration_id", "product_version")]
    public async Task A_database_with_a_migration_this_build_does_not_know_is_refused_before_anything_changes(string idColumn, string versionColumn)
    {
        await using var database = await TestInfrastructure.CreateDatabaseAsync("ledgermig");
        await using (var connection = new NpgsqlConnection(database.ConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(
                $"""
                CREATE TABLE "{ToolLedgerDbContext.HistoryTable}" ("{idColumn}" varchar(150) PRIMARY KEY, "{versionColumn}" varchar(32) NOT NULL);
                INSERT INTO "{ToolLedgerDbContext.HistoryTable}" VALUES ('20261128033145_Initial', '10.0.0');
                """, connection);
            await command.ExecuteNonQueryAsync();
        }

        await using var db = Create(database);
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => db.Database.ApplyMigrationsAsync());

        Assert.Contains(idColumn == "MigrationId" ? "history of an earlier layout" : "20261128033145_Initial", refused.Message, StringComparison.Ordinal);
        Assert.Contains("infra/local.sh reset-databases", refused.Message, StringComparison.Ordinal);
        Assert.Empty(await ColumnsAsync(database, ToolLedgerDbContext.TableName));
    }

    private static ToolLedgerDbContext Create(TestDatabase database) => new(new DbContextOptionsBuilder<ToolLedgerDbContext>()
        .UseNpgsql(database.ConnectionString, o => o.MigrationsHistoryTable(ToolLedgerDbContext.HistoryTable)).Options);

    private static async Task<List<string>> ColumnsAsync(TestDatabase database, string table)
    {
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT column_name FROM information_schema.columns WHERE table_name = $1", connection);
        command.Parameters.AddWithValue(table);
        var columns = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            columns.Add(reader.GetString(0));
        }

        return columns;
    }
}
