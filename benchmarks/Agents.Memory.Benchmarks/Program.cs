using Npgsql;

namespace Agents.Memory.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project benchmarks/Agents.Memory.Benchmarks [-- smoke]</c>: the full run (10k and 100k
/// memories) or the smoke run (tiny sizes, seconds). Creates a database of its own on the server in
/// AGENTS_BENCH_POSTGRES (default: local, user agents) and drops it afterwards.
/// </summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var smoke = args.Contains("smoke", StringComparer.OrdinalIgnoreCase);
        var settings = smoke ? MemoryBenchmarkSettings.Smoke : MemoryBenchmarkSettings.Full;
        if (int.TryParse(Environment.GetEnvironmentVariable("AGENTS_BENCH_QUERIES"), out var queries))
        {
            settings = settings with { Queries = queries };
        }

        var server = Environment.GetEnvironmentVariable("AGENTS_BENCH_POSTGRES") ?? "Host=127.0.0.1;Port=5432;Database=postgres;Username=agents;Password=agents";
        var database = $"bench_memory_{Guid.NewGuid():N}"[..30];
        await ExecuteAsync(server, $"CREATE DATABASE \"{database}\"");
        try
        {
            var connectionString = new NpgsqlConnectionStringBuilder(server) { Database = database }.ConnectionString;
            Console.WriteLine($"Database {database}{(smoke ? " (smoke run: tiny sizes)" : string.Empty)}");
            await MemoryBenchmark.RunAsync(connectionString, settings, Console.Out);
            return 0;
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await ExecuteAsync(server, $"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)");
        }
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
