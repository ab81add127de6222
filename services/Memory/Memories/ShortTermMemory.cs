using Agents.Memory.Data;
using Agents.Memory.VectorSearch;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Agents.Memory.Memories;

/// <summary>A message of a session buffer as returned to its owner.</summary>
public sealed record SessionMessageView(long Id, string Role, string Content, int Tokens, DateTimeOffset CreatedAt);

/// <summary>A session's buffer: the running summary of compacted messages (if any) and the messages after it.</summary>
public sealed record SessionView(string SessionId, string? Summary, IReadOnlyList<SessionMessageView> Messages, int Tokens, bool Compacted);

/// <summary>
/// Short-term memory: a conversation buffer per (tenant, user, session). When the buffer passes
/// <see cref="ShortTermSettings.TokenLimit"/> the older messages (all but the most recent few) are
/// replaced by one summary message. Appends to one session are serialized by a transaction-scoped
/// advisory lock, so two replicas never compact the same messages twice.
/// </summary>
public sealed class ShortTermMemory(
    MemoryDbContext db,
    IConversationSummarizer summarizer,
    IOptions<MemoryOptions> options,
    TimeProvider time)
{
    public const string SummaryRole = "summary";

    public async Task<SessionView> AppendAsync(MemoryScope scope, string sessionId, string role, string content, CancellationToken cancellationToken)
    {
        var settings = options.Value.ShortTerm;
        var now = StoredTime.Now(time);
        var expires = now + options.Value.Ttl.ShortTerm;
        var compacted = false;
        await using (var transaction = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            await LockSessionAsync(scope, sessionId, cancellationToken);
            db.ShortTermMessages.Add(new ShortTermMessage
            {
                TenantId = scope.TenantId,
                UserId = scope.UserId,
                SessionId = sessionId,
                Role = role,
                Content = content,
                Tokens = TokenEstimator.Estimate(content),
                CreatedAt = now,
                ExpiresAt = expires,
            });
            await db.SaveChangesAsync(cancellationToken);

            // An active session stays alive: its whole buffer expires a TTL after the last message.
            await SessionQuery(scope, sessionId).ExecuteUpdateAsync(s => s.SetProperty(m => m.ExpiresAt, expires), cancellationToken);

            var messages = await SessionQuery(scope, sessionId).OrderBy(m => m.Id).ToListAsync(cancellationToken);
            if (messages.Sum(m => m.Tokens) > settings.TokenLimit)
            {
                compacted = await CompactAsync(scope, sessionId, messages, settings, now, expires, cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
        }

        var view = await ReadAsync(scope, sessionId, cancellationToken);
        return view! with { Compacted = compacted };
    }

    public async Task<SessionView?> ReadAsync(MemoryScope scope, string sessionId, CancellationToken cancellationToken)
    {
        var now = StoredTime.Now(time);
        var messages = await SessionQuery(scope, sessionId)
            .Where(m => m.ExpiresAt == null || m.ExpiresAt > now)
            .OrderBy(m => m.Id)
            .AsNoTracking()
            .ToListAsync(cancellationToken);
        if (messages.Count == 0)
        {
            return null;
        }

        var summary = messages.LastOrDefault(m => m.IsSummary);
        return new SessionView(
            sessionId,
            summary?.Content,
            messages.Where(m => !m.IsSummary).Select(m => new SessionMessageView(m.Id, m.Role, m.Content, m.Tokens, m.CreatedAt)).ToList(),
            messages.Sum(m => m.Tokens),
            false);
    }

    public async Task<bool> ForgetSessionAsync(MemoryScope scope, string sessionId, CancellationToken cancellationToken) =>
        await SessionQuery(scope, sessionId).ExecuteDeleteAsync(cancellationToken) > 0;

    private async Task<bool> CompactAsync(
        MemoryScope scope,
        string sessionId,
        List<ShortTermMessage> messages,
        ShortTermSettings settings,
        DateTimeOffset now,
        DateTimeOffset? expires,
        CancellationToken cancellationToken)
    {
        var previous = messages.LastOrDefault(m => m.IsSummary);
        var conversation = messages.Where(m => !m.IsSummary).ToList();
        var older = conversation.Take(Math.Max(0, conversation.Count - settings.KeepRecentMessages)).ToList();
        if (older.Count == 0)
        {
            return false;
        }

        var summary = await summarizer.SummarizeAsync(
            previous?.Content,
            older.Select(m => new ConversationMessage(m.Role, m.Content)).ToList(),
            settings.SummaryMaxTokens,
            cancellationToken);
        var replaced = older.Select(m => m.Id).Concat(messages.Where(m => m.IsSummary).Select(m => m.Id)).ToList();
        await db.ShortTermMessages.Where(m => replaced.Contains(m.Id)).ExecuteDeleteAsync(cancellationToken);
        db.ChangeTracker.Clear();

        // The summary takes the place of the oldest message, so reading by id keeps the order.
        var summaryId = replaced.Min();
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        await using var command = new NpgsqlCommand(
            """
            INSERT INTO short_term_messages (id, tenant_id, user_id, session_id, role, content, tokens, is_summary, created_at, expires_at)
            OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, $6, $7, true, $8, $9)
            """,
            connection,
            (NpgsqlTransaction?)db.Database.CurrentTransaction?.GetDbTransaction());
        command.Parameters.Add(new NpgsqlParameter { Value = summaryId });
        command.Parameters.Add(new NpgsqlParameter { Value = scope.TenantId });
        command.Parameters.Add(new NpgsqlParameter { Value = scope.UserId });
        command.Parameters.Add(new NpgsqlParameter { Value = sessionId });
        command.Parameters.Add(new NpgsqlParameter { Value = SummaryRole });
        command.Parameters.Add(new NpgsqlParameter { Value = summary });
        command.Parameters.Add(new NpgsqlParameter { Value = TokenEstimator.Estimate(summary) });
        command.Parameters.Add(new NpgsqlParameter { Value = now });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)expires ?? DBNull.Value });
        await command.ExecuteNonQueryAsync(cancellationToken);
        return true;
    }

    private IQueryable<ShortTermMessage> SessionQuery(MemoryScope scope, string sessionId) =>
        db.ShortTermMessages.Where(m => m.TenantId == scope.TenantId && m.UserId == scope.UserId && m.SessionId == sessionId);

    private async Task LockSessionAsync(MemoryScope scope, string sessionId, CancellationToken cancellationToken)
    {
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        await using var command = new NpgsqlCommand(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            connection,
            (NpgsqlTransaction?)db.Database.CurrentTransaction?.GetDbTransaction());
        command.Parameters.Add(new NpgsqlParameter { Value = $"short-term|{scope.TenantId}|{scope.UserId}|{sessionId}" });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
