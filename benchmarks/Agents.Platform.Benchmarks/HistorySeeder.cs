using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Npgsql;
using NpgsqlTypes;

/// <summary>
/// Gives the platform's databases the history of many finished tasks, so that the benchmark can tell whether the cost
/// of a task grows with history. The rows of the tasks already finished (a saturated run makes 300) are copied, with
/// new ids, until about <c>total</c> finished tasks exist: in each service's database the tables that grow with every
/// task (the executor's tasks, runs and event logs; governance's budgets, reservations, call counts, processed keys and
/// audit entries; memory's episodes with their embeddings; the tool-gateway's call records; the planner's plans; every
/// inbox). Configuration, catalogs and the day's totals are left as they are.
/// <para>
/// Copy <c>k</c> of a row maps every uuid (but the inbox's consumer id, which names a consumer) to
/// <c>md5(uuid || ':' || salt || ':' || k)</c> (a salt per run of the seeder), so that a task's rows in every database
/// still refer to one another; appends <c>~h{salt}.{k}</c> to the text keys that must stay unique; and moves every timestamp <c>k × 10 min</c> into the past
/// (100,000 tasks from 300 span about 2.3 days, inside every retention window of the development settings).
/// Audit entries are appended to each tenant's chain with their hashes computed as governance computes them, so
/// <c>GET /api/governance/audit/verify</c> still holds; memory scopes get a new version, so the memory service
/// reloads their vector indexes with the episodes added.
/// </para>
/// Run it while no task is running (e.g. right after a saturated run). Development databases only.
/// </summary>
internal static class HistorySeeder
{
    private static readonly TimeSpan Step = TimeSpan.FromMinutes(10);

    // Per database: the tables copied, and the text columns that are (part of) a unique key without a uuid in it.
    private static readonly (string Database, (string Table, string[] TextKeys)[] Tables)[] Plan =
    [
        ("agents_executor", [("tasks", ["idempotency_key"]), ("task_runs", []), ("task_events", []), ("messaging_inbox_state", [])]),
        ("agents_governance", [("task_budgets", []), ("model_reservations", []), ("tool_call_counts", []), ("processed_messages", ["key"]), ("messaging_inbox_state", [])]),
        ("agents_memory", [("memories", []), ("messaging_inbox_state", [])]),
        ("agents_toolgateway", [("tool_calls", ["idempotency_key"]), ("messaging_inbox_state", [])]),
        ("agents_planner", [("plan_versions", []), ("messaging_inbox_state", [])]),
    ];

    public static async Task<int> RunAsync(string postgres, int total)
    {
        var server = new NpgsqlConnectionStringBuilder(postgres) { CommandTimeout = 0 };
        var running = await ScalarAsync(server, "agents_executor", "SELECT count(*) FROM tasks WHERE finished_at IS NULL");
        if (running > 0)
        {
            Console.Error.WriteLine($"{running} tasks have not finished: copies of them would be picked up as running work. Wait until they end.");
            return 2;
        }

        var finished = await ScalarAsync(server, "agents_executor", "SELECT count(*) FROM tasks WHERE finished_at IS NOT NULL");
        if (finished == 0)
        {
            Console.Error.WriteLine("No finished task to copy: run the benchmark once first (e.g. `-- 300 48 0 saturated`).");
            return 2;
        }

        // Every table is copied k = 1..copies times; the copies of copy k stay consistent across databases.
        var copies = (int)Math.Ceiling((total - finished) / (double)finished);
        if (copies < 1)
        {
            Console.WriteLine($"history              {finished} finished tasks already, nothing to add");
            return 0;
        }

        // Each run of the seeder maps ids with a salt of its own, so that running it again (to add more) makes new ids.
        var salt = Guid.NewGuid().ToString("N")[..8];
        Console.WriteLine($"history              {finished} finished tasks, adding {copies} copies of each (≈{finished * (copies + 1L):N0} tasks of history)");
        var clock = Stopwatch.StartNew();
        foreach (var (database, tables) in Plan)
        {
            await using var connection = await OpenAsync(server, database);
            foreach (var (table, textKeys) in tables)
            {
                var sql = await CopySqlAsync(connection, table, textKeys, salt);
                var started = Stopwatch.GetTimestamp();
                await using var command = new NpgsqlCommand(sql, connection);
                command.Parameters.Add(new NpgsqlParameter { Value = copies });
                command.Parameters.Add(new NpgsqlParameter { Value = Step });
                var rows = await command.ExecuteNonQueryAsync();
                Console.WriteLine($"  {database}.{table}: {rows:N0} rows in {Stopwatch.GetElapsedTime(started).TotalSeconds:F1} s");
            }

            if (database == "agents_memory")
            {
                await using var bump = new NpgsqlCommand("UPDATE memory_scopes SET version = version + 1", connection);
                await bump.ExecuteNonQueryAsync();
            }

            await using var analyze = new NpgsqlCommand("ANALYZE", connection);
            await analyze.ExecuteNonQueryAsync();
        }

        await AppendAuditAsync(server, copies, salt);
        Console.WriteLine($"history              done in {clock.Elapsed.TotalSeconds:F0} s");
        return 0;
    }

    /// <summary>INSERT … SELECT of the table's current rows, once for each k in 1..$1, with ids, keys and times mapped.</summary>
    private static async Task<string> CopySqlAsync(NpgsqlConnection connection, string table, string[] textKeys, string salt)
    {
        var columns = new List<(string Name, string Type)>();
        await using (var command = new NpgsqlCommand(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 " +
            "AND is_generated = 'NEVER' AND (column_default IS NULL OR column_default NOT LIKE 'nextval%') ORDER BY ordinal_position",
            connection))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = table });
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                columns.Add((reader.GetString(0), reader.GetString(1)));
            }
        }

        var values = columns.Select(c =>
        {
            var name = $"\"{c.Name}\"";
            return c.Type switch
            {
                "uuid" when c.Name != "consumer_id" => $"md5({name}::text || ':{salt}:' || k)::uuid",
                "timestamp with time zone" => $"{name} - k * $2::interval",
                _ when textKeys.Contains(c.Name) => $"{name} || '~h{salt}.' || k",
                _ => name,
            };
        });
        var names = string.Join(", ", columns.Select(c => $"\"{c.Name}\""));
        return $"INSERT INTO {table} ({names}) SELECT {string.Join(", ", values)} FROM {table}, generate_series(1, $1) AS k";
    }

    /// <summary>Appends copy k of every tenant's audit entries to its chain, hashed as governance hashes, and moves the head.</summary>
    private static async Task AppendAuditAsync(NpgsqlConnectionStringBuilder server, int copies, string salt)
    {
        var started = Stopwatch.GetTimestamp();
        await using var read = await OpenAsync(server, "agents_governance");
        await using var write = await OpenAsync(server, "agents_governance");
        var heads = new List<(string Tenant, long Sequence, string Hash)>();
        await using (var command = new NpgsqlCommand("SELECT tenant_id, last_sequence, last_hash FROM audit_heads ORDER BY tenant_id", read))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                heads.Add((reader.GetString(0), reader.GetInt64(1), reader.GetString(2)));
            }
        }

        long appended = 0;
        foreach (var (tenant, headSequence, headHash) in heads)
        {
            var entries = new List<AuditRow>();
            await using (var command = new NpgsqlCommand(
                "SELECT time, actor, action, subject, task_id, decision, reason, details FROM audit_entries WHERE tenant_id = $1 AND sequence <= $2 ORDER BY sequence", read))
            {
                command.Parameters.Add(new NpgsqlParameter { Value = tenant });
                command.Parameters.Add(new NpgsqlParameter { Value = headSequence });
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    entries.Add(new AuditRow(
                        reader.GetFieldValue<DateTimeOffset>(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                        reader.IsDBNull(4) ? null : reader.GetGuid(4), reader.IsDBNull(5) ? null : reader.GetString(5),
                        reader.IsDBNull(6) ? null : reader.GetString(6), reader.GetString(7)));
                }
            }

            var sequence = headSequence;
            var previous = headHash;
            await using var transaction = await write.BeginTransactionAsync();
            await using (var import = await write.BeginBinaryImportAsync(
                "COPY audit_entries (tenant_id, sequence, time, actor, action, subject, task_id, decision, reason, details, prev_hash, hash) FROM STDIN (FORMAT BINARY)"))
            {
                for (var k = 1; k <= copies; k++)
                {
                    foreach (var entry in entries)
                    {
                        sequence++;
                        var time = entry.Time - (k * Step);
                        var taskId = entry.TaskId is { } id ? CopyId(id, salt, k) : (Guid?)null;
                        var hash = Hash(tenant, sequence, time, entry.Actor, entry.Action, entry.Subject, taskId, entry.Decision, entry.Reason, entry.Details, previous);
                        await import.StartRowAsync();
                        await import.WriteAsync(tenant, NpgsqlDbType.Text);
                        await import.WriteAsync(sequence, NpgsqlDbType.Bigint);
                        await import.WriteAsync(time, NpgsqlDbType.TimestampTz);
                        await import.WriteAsync(entry.Actor, NpgsqlDbType.Text);
                        await import.WriteAsync(entry.Action, NpgsqlDbType.Text);
                        await import.WriteAsync(entry.Subject, NpgsqlDbType.Text);
                        await WriteNullableAsync(import, taskId, NpgsqlDbType.Uuid);
                        await WriteNullableAsync(import, entry.Decision, NpgsqlDbType.Text);
                        await WriteNullableAsync(import, entry.Reason, NpgsqlDbType.Text);
                        await import.WriteAsync(entry.Details, NpgsqlDbType.Text);
                        await import.WriteAsync(previous, NpgsqlDbType.Text);
                        await import.WriteAsync(hash, NpgsqlDbType.Text);
                        previous = hash;
                        appended++;
                    }
                }

                await import.CompleteAsync();
            }

            await using (var head = new NpgsqlCommand("UPDATE audit_heads SET last_sequence = $2, last_hash = $3 WHERE tenant_id = $1", write, transaction))
            {
                head.Parameters.Add(new NpgsqlParameter { Value = tenant });
                head.Parameters.Add(new NpgsqlParameter { Value = sequence });
                head.Parameters.Add(new NpgsqlParameter { Value = previous });
                await head.ExecuteNonQueryAsync();
            }

            await transaction.CommitAsync();
        }

        await using (var analyze = new NpgsqlCommand("ANALYZE audit_entries", write))
        {
            await analyze.ExecuteNonQueryAsync();
        }

        Console.WriteLine($"  agents_governance.audit_entries: {appended:N0} rows in {Stopwatch.GetElapsedTime(started).TotalSeconds:F1} s");
    }

    private static async Task WriteNullableAsync<T>(NpgsqlBinaryImporter import, T? value, NpgsqlDbType type)
    {
        if (value is null)
        {
            await import.WriteNullAsync();
        }
        else
        {
            await import.WriteAsync(value, type);
        }
    }

    // md5(uuid::text || ':salt:' || k)::uuid, as the SQL copies map ids, so that audit entries name the copied tasks.
    private static Guid CopyId(Guid id, string salt, int k)
    {
        var digest = MD5.HashData(Encoding.UTF8.GetBytes($"{id:D}:{salt}:{k.ToString(CultureInfo.InvariantCulture)}"));
        return Guid.Parse(Convert.ToHexStringLower(digest));
    }

    // Governance's chain hash: SHA-256 over the length-prefixed fields (time in microseconds, UTC) and the previous hash.
    private static string Hash(
        string tenant, long sequence, DateTimeOffset time, string actor, string action, string subject, Guid? taskId,
        string? decision, string? reason, string details, string previous)
    {
        var text = new StringBuilder(256);
        void Field(string? value)
        {
            value ??= "\0";
            text.Append(value.Length.ToString(CultureInfo.InvariantCulture)).Append(':').Append(value).Append('|');
        }

        Field(tenant);
        Field(sequence.ToString(CultureInfo.InvariantCulture));
        Field(time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture));
        Field(actor);
        Field(action);
        Field(subject);
        Field(taskId?.ToString("D"));
        Field(decision);
        Field(reason);
        Field(details);
        Field(previous);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    private static async Task<long> ScalarAsync(NpgsqlConnectionStringBuilder server, string database, string sql)
    {
        await using var connection = await OpenAsync(server, database);
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    private static async Task<NpgsqlConnection> OpenAsync(NpgsqlConnectionStringBuilder server, string database)
    {
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(server.ConnectionString) { Database = database }.ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    private sealed record AuditRow(DateTimeOffset Time, string Actor, string Action, string Subject, Guid? TaskId, string? Decision, string? Reason, string Details);
}
