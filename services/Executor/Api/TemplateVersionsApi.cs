using Agents.Executor.Data;
using Agents.ServiceDefaults;
using Agents.ServiceDefaults.Identity;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Agents.Executor.Api;

/// <summary>
/// <c>GET /api/tasks/versions?template=…</c>: how each version of a workflow template did on live traffic — tasks,
/// success rate, latency, tokens, cost and approvals per template version and rollout side — so a candidate version can
/// be compared with the stable one while it rolls out. Replays are left out (they are not traffic). The caller sees the
/// figures of the tasks it may see: the tenant's for admins and approvers, its own otherwise.
/// </summary>
internal static class TemplateVersionsApi
{
    /// <summary>How far back the figures go when no <c>since</c> is given.</summary>
    public static readonly TimeSpan DefaultWindow = TimeSpan.FromDays(7);

    public static RouteGroupBuilder MapTemplateVersions(this RouteGroupBuilder tasks)
    {
        tasks.MapGet("/versions", GetAsync).Produces<TemplateVersionReport>().ProducesValidationProblem();
        return tasks;
    }

    private static async Task<IResult> GetAsync(
        string? template,
        DateTimeOffset? since,
        HttpContext http,
        ExecutorDbContext db,
        TenantAccessCache access,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(template))
        {
            return ApiProblems.Validation(new Dictionary<string, string[]> { ["template"] = ["name the workflow template, e.g. ?template=lookup-and-summarize."] }, "See 'errors'.");
        }

        var principal = http.GetPrincipal();
        var rules = await access.GetAsync(principal.TenantId, cancellationToken);
        if (rules is null)
        {
            return TenantAccessCache.Unavailable("the tenant's tasks");
        }

        var from = since ?? time.GetUtcNow() - DefaultWindow;
        var onlyUser = rules.MayActOnEveryTask(principal) ? null : principal.UserId;
        var versions = await FiguresAsync(db, principal.TenantId, template, from, onlyUser, cancellationToken);
        return Results.Ok(new TemplateVersionReport(template, from, time.GetUtcNow(), versions));
    }

    // The runs of the window in one pass, grouped in the database: counts, nearest-rank latency percentiles
    // (percentile_disc), averages over the finished, and the tasks that asked a person; then each group's statuses.
    private const string FiguresSql = """
        WITH runs AS (
            SELECT r.template_version AS version, r.template_rollout AS rollout, r.status,
                   extract(epoch FROM r.finished_at - r.submitted_at)::float8 * 1000 AS latency_ms,
                   r.input_tokens + r.output_tokens AS tokens, r.cost,
                   EXISTS (SELECT 1 FROM task_events AS e WHERE e.task_id = t.id AND e.kind = 'approval-required') AS asked
            FROM tasks AS t JOIN task_runs AS r ON r.correlation_id = t.id
            WHERE t.tenant_id = $1 AND t.template_name = $2 AND t.created_at >= $3 AND ($4::text IS NULL OR t.user_id = $4)
              AND r.replay_of IS NULL)
        SELECT version, rollout, NULL::text AS status, count(*), count(latency_ms),
               count(*) FILTER (WHERE latency_ms IS NOT NULL AND status = 'Completed'),
               percentile_disc(0.5) WITHIN GROUP (ORDER BY latency_ms), percentile_disc(0.95) WITHIN GROUP (ORDER BY latency_ms),
               avg(tokens) FILTER (WHERE latency_ms IS NOT NULL)::float8, avg(cost) FILTER (WHERE latency_ms IS NOT NULL),
               count(*) FILTER (WHERE asked)
        FROM runs GROUP BY version, rollout
        UNION ALL
        SELECT version, rollout, status, count(*), 0, 0, NULL, NULL, NULL, NULL, 0 FROM runs GROUP BY version, rollout, status
        """;

    private static async Task<List<TemplateVersionFigures>> FiguresAsync(
        ExecutorDbContext db, string tenantId, string template, DateTimeOffset from, string? userId, CancellationToken cancellationToken)
    {
        var groups = new Dictionary<(int?, string?), TemplateVersionFigures>();
        var statuses = new Dictionary<(int?, string?), SortedDictionary<string, int>>();
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            await using var command = new NpgsqlCommand(FiguresSql, connection);
            command.Parameters.Add(new NpgsqlParameter { Value = tenantId });
            command.Parameters.Add(new NpgsqlParameter { Value = template });
            command.Parameters.Add(new NpgsqlParameter { Value = from.ToUniversalTime() });
            command.Parameters.Add(new NpgsqlParameter { Value = (object?)userId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var key = (reader.IsDBNull(0) ? (int?)null : reader.GetInt32(0), reader.IsDBNull(1) ? null : reader.GetString(1));
                if (!reader.IsDBNull(2))
                {
                    statuses.TryAdd(key, new SortedDictionary<string, int>(StringComparer.Ordinal));
                    statuses[key][reader.GetString(2)] = (int)reader.GetInt64(3);
                    continue;
                }

                var (tasks, finished, completed) = ((int)reader.GetInt64(3), (int)reader.GetInt64(4), (int)reader.GetInt64(5));
                groups[key] = new TemplateVersionFigures(
                    key.Item1,
                    key.Item2,
                    tasks,
                    finished,
                    completed,
                    finished == 0 ? null : Math.Round(completed / (double)finished, 4),
                    reader.IsDBNull(6) ? null : Math.Round(reader.GetDouble(6), 1),
                    reader.IsDBNull(7) ? null : Math.Round(reader.GetDouble(7), 1),
                    reader.IsDBNull(8) ? 0 : Math.Round(reader.GetDouble(8), 1),
                    reader.IsDBNull(9) ? 0m : Math.Round(reader.GetDecimal(9), 6),
                    Math.Round(reader.GetInt64(10) / (double)tasks, 4),
                    new Dictionary<string, int>());
            }
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }

        return groups
            .Select(g => g.Value with { ByStatus = statuses.TryGetValue(g.Key, out var byStatus) ? byStatus.ToDictionary(StringComparer.Ordinal) : new Dictionary<string, int>() })
            .OrderBy(g => g.Version ?? int.MaxValue).ThenBy(g => g.Rollout, StringComparer.Ordinal)
            .ToList();
    }
}

/// <summary>The figures of a template's versions between <see cref="Since"/> and <see cref="Until"/>.</summary>
public sealed record TemplateVersionReport(string Template, DateTimeOffset Since, DateTimeOffset Until, IReadOnlyList<TemplateVersionFigures> Versions);

/// <summary>
/// One template version (and rollout side) on live traffic. <see cref="Version"/> is null for tasks not planned (yet): a
/// task rejected before planning, or still waiting. <see cref="SuccessRate"/>: Completed among the finished;
/// <see cref="ApprovalRate"/>: tasks that asked a person at least once, among all; latency from submission to the end;
/// tokens and cost per task: of the finished tasks (a task still running has spent only part of its share).
/// </summary>
public sealed record TemplateVersionFigures(
    int? Version,
    string? Rollout,
    int Tasks,
    int Finished,
    int Completed,
    double? SuccessRate,
    double? LatencyP50Ms,
    double? LatencyP95Ms,
    double TokensPerTask,
    decimal CostPerTask,
    double ApprovalRate,
    IReadOnlyDictionary<string, int> ByStatus);
