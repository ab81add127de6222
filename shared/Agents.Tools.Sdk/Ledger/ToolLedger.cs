using Npgsql;

namespace Agents.Tools.Sdk.Ledger;

/// <summary>
/// Serializes all work on one (tool, idempotency key) with a PostgreSQL session advisory lock held
/// on a dedicated connection for the whole operation. Whoever holds the lock and finds a row still
/// <see cref="LedgerStatuses.Started"/> knows its writer died mid-run (a session lock dies with its
/// connection), which is how a crash is told apart from a concurrent duplicate.
/// Every ledger write commits on its own, so "started" is durable before the tool runs.
/// </summary>
internal sealed class ToolLedger(NpgsqlDataSource dataSource)
{
    private const string LockKeySql = "hashtextextended(@tool || chr(10) || @key, 0)";

    /// <summary>Takes the lock for (tool, key), waiting at most <paramref name="wait"/>; null when another call kept it.</summary>
    public async Task<LedgerLock?> LockAsync(string tool, string key, TimeSpan wait, CancellationToken cancellationToken)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
            {
                await using var command = new NpgsqlCommand(
                    $"SELECT set_config('lock_timeout', @timeout, true); SELECT pg_advisory_lock({LockKeySql});",
                    connection,
                    transaction);
                command.Parameters.AddWithValue("timeout", ((long)Math.Ceiling(wait.TotalMilliseconds)).ToString(System.Globalization.CultureInfo.InvariantCulture));
                command.Parameters.AddWithValue("tool", tool);
                command.Parameters.AddWithValue("key", key);
                try
                {
                    await command.ExecuteNonQueryAsync(cancellationToken);
                }
                catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.LockNotAvailable)
                {
                    await transaction.RollbackAsync(CancellationToken.None);
                    await connection.DisposeAsync();
                    return null;
                }

                // The session lock outlives the transaction; only lock_timeout (SET LOCAL) is reset.
                await transaction.CommitAsync(cancellationToken);
            }

            return new LedgerLock(connection, tool, key);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }
}

/// <summary>A held (tool, key) lock and the ledger operations done under it, on the lock's connection.</summary>
internal sealed class LedgerLock(NpgsqlConnection connection, string tool, string key) : IAsyncDisposable
{
    private const string Columns =
        "tool, idempotency_key, operation, tenant_id, user_id, task_id, step_id, last_call_id, arguments_hash, arguments, " +
        "status, output, error, attempts, executions, replays, created_at, updated_at, completed_at";

    public async Task<ToolLedgerEntry?> FindAsync(string operation, CancellationToken cancellationToken)
    {
        await using var command = Command($"SELECT {Columns} FROM tool_ledger WHERE tool = @tool AND idempotency_key = @key AND operation = @operation");
        command.Parameters.AddWithValue("operation", operation);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return new ToolLedgerEntry
        {
            Tool = reader.GetString(0),
            IdempotencyKey = reader.GetString(1),
            Operation = reader.GetString(2),
            TenantId = reader.GetString(3),
            UserId = reader.GetString(4),
            TaskId = reader.GetGuid(5),
            StepId = reader.GetString(6),
            LastCallId = reader.GetGuid(7),
            ArgumentsHash = reader.GetString(8),
            Arguments = reader.GetString(9),
            Status = reader.GetString(10),
            Output = reader.IsDBNull(11) ? null : reader.GetString(11),
            Error = reader.IsDBNull(12) ? null : reader.GetString(12),
            Attempts = reader.GetInt32(13),
            Executions = reader.GetInt32(14),
            Replays = reader.GetInt32(15),
            CreatedAt = reader.GetFieldValue<DateTimeOffset>(16),
            UpdatedAt = reader.GetFieldValue<DateTimeOffset>(17),
            CompletedAt = reader.IsDBNull(18) ? null : reader.GetFieldValue<DateTimeOffset>(18),
        };
    }

    /// <summary>
    /// Records the operation as started (a new row, or the next attempt of a transiently failed or
    /// interrupted one). <paramref name="runsTool"/> counts an execution of the tool's code.
    /// </summary>
    public async Task StartAsync(ToolLedgerEntry entry, bool runsTool, CancellationToken cancellationToken)
    {
        await using var command = Command(
            $"""
            INSERT INTO tool_ledger ({Columns})
            VALUES (@tool, @key, @operation, @tenant, @user, @task, @step, @call, @hash, @arguments,
                    'started', NULL, NULL, 1, @executions, 0, @now, @now, NULL)
            ON CONFLICT (tool, idempotency_key, operation) DO UPDATE SET
                status = 'started', output = NULL, error = NULL, completed_at = NULL,
                attempts = tool_ledger.attempts + 1,
                executions = tool_ledger.executions + @executions,
                last_call_id = @call, updated_at = @now
            """);
        command.Parameters.AddWithValue("operation", entry.Operation);
        command.Parameters.AddWithValue("tenant", entry.TenantId);
        command.Parameters.AddWithValue("user", entry.UserId);
        command.Parameters.AddWithValue("task", entry.TaskId);
        command.Parameters.AddWithValue("step", entry.StepId);
        command.Parameters.AddWithValue("call", entry.LastCallId);
        command.Parameters.AddWithValue("hash", entry.ArgumentsHash);
        command.Parameters.AddWithValue("arguments", entry.Arguments);
        command.Parameters.AddWithValue("executions", runsTool ? 1 : 0);
        command.Parameters.AddWithValue("now", entry.UpdatedAt);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Records a final (or transient) outcome of the operation.</summary>
    public async Task CompleteAsync(string operation, string status, string? output, string? error, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = Command(
            """
            UPDATE tool_ledger SET status = @status, output = @output, error = @error, updated_at = @now, completed_at = @now
            WHERE tool = @tool AND idempotency_key = @key AND operation = @operation
            """);
        command.Parameters.AddWithValue("operation", operation);
        command.Parameters.AddWithValue("status", status);
        command.Parameters.AddWithValue("output", (object?)output ?? DBNull.Value);
        command.Parameters.AddWithValue("error", (object?)error ?? DBNull.Value);
        command.Parameters.AddWithValue("now", now);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Counts a replay (a stored result returned instead of running again).</summary>
    public async Task CountReplayAsync(string operation, Guid callId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = Command(
            """
            UPDATE tool_ledger SET replays = replays + 1, last_call_id = @call, updated_at = @now
            WHERE tool = @tool AND idempotency_key = @key AND operation = @operation
            """);
        command.Parameters.AddWithValue("operation", operation);
        command.Parameters.AddWithValue("call", callId);
        command.Parameters.AddWithValue("now", now);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (connection.State == System.Data.ConnectionState.Open)
            {
                await using var command = new NpgsqlCommand($"SELECT pg_advisory_unlock(hashtextextended(@tool || chr(10) || @key, 0))", connection);
                command.Parameters.AddWithValue("tool", tool);
                command.Parameters.AddWithValue("key", key);
                await command.ExecuteNonQueryAsync(CancellationToken.None);
            }
        }
        catch (NpgsqlException)
        {
            // A broken connection ends its session, and with it the lock.
        }
        finally
        {
            await connection.DisposeAsync();
        }
    }

    private NpgsqlCommand Command(string sql)
    {
        var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("tool", tool);
        command.Parameters.AddWithValue("key", key);
        return command;
    }
}
