using Agents.Contracts;
using Agents.Memory.Memories;
using Npgsql;

namespace Agents.Memory.VectorSearch;

/// <summary>
/// Reads recall candidates back from <c>memories</c> with plain Npgsql (the hot path of recall):
/// always filtered by tenant and user, never stale, never expired.
/// </summary>
internal static class MemoryRows
{
    public const string Sql =
        """
        SELECT id, kind, text, source, source_task_id, source_step_id, trust, created_at, expires_at
        FROM memories
        WHERE tenant_id = $1 AND user_id = $2 AND id = ANY($3) AND stale_at IS NULL AND (expires_at IS NULL OR expires_at > $4)
        """;

    public static NpgsqlBatchCommand Command(MemoryScope scope, IEnumerable<Guid> ids, DateTimeOffset now)
    {
        var command = new NpgsqlBatchCommand(Sql);
        command.Parameters.Add(new NpgsqlParameter { Value = scope.TenantId });
        command.Parameters.Add(new NpgsqlParameter { Value = scope.UserId });
        command.Parameters.Add(new NpgsqlParameter { Value = ids.ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = now });
        return command;
    }

    public static async Task<Dictionary<Guid, MemoryView>> ReadAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        var rows = new Dictionary<Guid, MemoryView>();
        while (await reader.ReadAsync(cancellationToken))
        {
            var view = new MemoryView(
                reader.GetGuid(0),
                reader.GetString(1),
                reader.GetString(2),
                reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetGuid(4),
                reader.IsDBNull(5) ? null : reader.GetString(5),
                Enum.Parse<TrustLevel>(reader.GetString(6)),
                reader.GetFieldValue<DateTimeOffset>(7),
                reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8),
                false);
            rows[view.Id] = view;
        }

        return rows;
    }

    /// <summary>One round trip for stores without their own (e.g. Qdrant).</summary>
    public static async Task<Dictionary<Guid, MemoryView>> FetchAsync(NpgsqlDataSource dataSource, MemoryScope scope, IEnumerable<Guid> ids, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(Command(scope, ids, now));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        return await ReadAsync(reader, cancellationToken);
    }
}

/// <summary>A vector store that can return candidates together with their rows (and validate its cache) in one database round trip.</summary>
public interface IRecallSource
{
    Task<IReadOnlyList<(VectorHit Hit, MemoryView Memory)>> SearchWithRowsAsync(
        MemoryScope scope, float[] query, int limit, float minSimilarity, DateTimeOffset now, CancellationToken cancellationToken);
}
