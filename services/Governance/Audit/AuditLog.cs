using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Agents.Governance.Data;
using Agents.Governance.Telemetry;
using Microsoft.EntityFrameworkCore;

namespace Agents.Governance.Audit;

/// <summary>The result of verifying a tenant's audit chain.</summary>
public sealed record AuditVerification(bool Ok, long Entries, long? FirstTamperedSequence, string? Problem);

/// <summary>
/// The per-tenant, append-only, hash-chained audit log. <see cref="AppendAsync"/> must run inside the
/// caller's transaction (so an entry commits with the decision it records); it locks the tenant's chain
/// head row, so concurrent appends queue up instead of forking the chain.
/// </summary>
public sealed class AuditLog(GovernanceDbContext db, TimeProvider time)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly Dictionary<string, AuditHead> _held = new(StringComparer.Ordinal);
    private Guid? _heldIn;

    public async Task<AuditEntry> AppendAsync(
        string tenantId,
        string actor,
        string action,
        string subject,
        Guid? taskId,
        string? decision,
        string? reason,
        object? details,
        CancellationToken cancellationToken)
    {
        if (db.Database.CurrentTransaction is null)
        {
            throw new InvalidOperationException("Audit entries are appended inside the transaction of the decision they record.");
        }

        var head = await LockChainAsync(tenantId, cancellationToken);
        var entry = new AuditEntry
        {
            TenantId = tenantId,
            Sequence = head.LastSequence + 1,
            Time = TruncateToMicroseconds(time.GetUtcNow()),
            Actor = actor,
            Action = action,
            Subject = subject,
            TaskId = taskId,
            Decision = decision,
            Reason = reason,
            Details = details is null ? "{}" : details as string ?? JsonSerializer.Serialize(details, Json),
            PrevHash = head.LastHash,
            Hash = string.Empty,
        };
        entry.Hash = ComputeHash(entry);
        head.LastSequence = entry.Sequence;
        head.LastHash = entry.Hash;
        db.Audit.Add(entry);
        GovernanceTelemetry.Decided(tenantId, action, decision, reason);
        return entry;
    }

    /// <summary>
    /// Locks the tenant's chain head until the transaction ends (creating it on first use): one round trip once it exists,
    /// and none for further appends in the same transaction, which use the row it holds.
    /// </summary>
    public async Task<AuditHead> LockChainAsync(string tenantId, CancellationToken cancellationToken)
    {
        var transaction = db.Database.CurrentTransaction?.TransactionId;
        if (_heldIn != transaction)
        {
            _held.Clear();
            _heldIn = transaction;
        }

        if (transaction is not null && _held.TryGetValue(tenantId, out var held))
        {
            return held;
        }

        var head = await SelectHeadAsync(tenantId, cancellationToken);
        if (head is null)
        {
            await db.Database.ExecuteSqlInterpolatedAsync(
                $"INSERT INTO audit_heads (tenant_id, last_sequence, last_hash) VALUES ({tenantId}, 0, '') ON CONFLICT (tenant_id) DO NOTHING",
                cancellationToken);
            head = (await SelectHeadAsync(tenantId, cancellationToken))!;
        }

        if (transaction is not null)
        {
            _held[tenantId] = head;
        }

        return head;
    }

    private async Task<AuditHead?> SelectHeadAsync(string tenantId, CancellationToken cancellationToken) =>
        (await db.AuditHeads
            .FromSqlInterpolated($"SELECT * FROM audit_heads WHERE tenant_id = {tenantId} FOR UPDATE")
            .ToListAsync(cancellationToken)).SingleOrDefault();

    /// <summary>
    /// Walks the chain from sequence 1 and reports the first entry that does not match. Entries and head are read in
    /// one repeatable-read snapshot: read apart, an append committing between the two reads looked like a removed tail.
    /// </summary>
    public async Task<AuditVerification> VerifyAsync(string tenantId, CancellationToken cancellationToken)
    {
        await using var snapshot = await db.Database.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
        var previousHash = string.Empty;
        long expected = 1;
        await foreach (var entry in db.Audit.AsNoTracking().Where(e => e.TenantId == tenantId).OrderBy(e => e.Sequence).AsAsyncEnumerable().WithCancellation(cancellationToken))
        {
            if (entry.Sequence != expected)
            {
                return new AuditVerification(false, expected - 1, expected, $"Entry {expected} is missing (the next stored entry is {entry.Sequence}).");
            }

            if (!string.Equals(entry.PrevHash, previousHash, StringComparison.Ordinal))
            {
                return new AuditVerification(false, expected - 1, entry.Sequence, "prev_hash does not match the hash of the previous entry.");
            }

            var recomputed = ComputeHash(entry);
            if (!string.Equals(recomputed, entry.Hash, StringComparison.Ordinal))
            {
                return new AuditVerification(false, expected - 1, entry.Sequence, "hash does not match the entry's content: a field was changed after it was written.");
            }

            previousHash = entry.Hash;
            expected++;
        }

        var head = await db.AuditHeads.AsNoTracking().SingleOrDefaultAsync(h => h.TenantId == tenantId, cancellationToken);
        var count = expected - 1;
        if (head is not null && (head.LastSequence != count || !string.Equals(head.LastHash, previousHash, StringComparison.Ordinal)))
        {
            return new AuditVerification(false, count, count + 1, $"The chain head records {head.LastSequence} entries but {count} remain: entries at the end were removed.");
        }

        return new AuditVerification(true, count, null, null);
    }

    /// <summary>SHA-256 over the length-prefixed canonical fields and the previous hash (lower-case hex).</summary>
    internal static string ComputeHash(AuditEntry e)
    {
        var builder = new StringBuilder(256);
        void Field(string? value)
        {
            value ??= "\0";
            builder.Append(value.Length.ToString(CultureInfo.InvariantCulture)).Append(':').Append(value).Append('|');
        }

        Field(e.TenantId);
        Field(e.Sequence.ToString(CultureInfo.InvariantCulture));
        Field(e.Time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture));
        Field(e.Actor);
        Field(e.Action);
        Field(e.Subject);
        Field(e.TaskId?.ToString("D"));
        Field(e.Decision);
        Field(e.Reason);
        Field(e.Details);
        Field(e.PrevHash);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(builder.ToString())));
    }

    // PostgreSQL keeps microseconds; hash exactly what is stored.
    internal static DateTimeOffset TruncateToMicroseconds(DateTimeOffset value) =>
        new(value.UtcTicks - (value.UtcTicks % 10), TimeSpan.Zero);
}
