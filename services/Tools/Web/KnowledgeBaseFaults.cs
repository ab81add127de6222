using System.Collections.Concurrent;
using System.Globalization;
using Agents.ServiceDefaults;

namespace Agents.Tools.Web;

/// <summary>
/// Testing aid of the sample knowledge-base site, for evaluation suites (<c>docs/evaluation.md</c>): an article URL with
/// <c>?run=&lt;id&gt;</c> and one of <c>fail=N</c> (the first N requests answer 503, which <c>web.fetch</c> reports as a
/// transient failure), <c>slow=N&amp;delayMs=M</c> (the first N requests wait M ms before answering, so a fetch runs into
/// <c>WebFetch:Timeout</c>) or <c>gone=true</c> (every request answers 410, a permanent failure). Requests are counted per
/// run and article, so retries of one call see the fault end while other runs are not affected. Without <c>run</c>
/// the article is served as usual.
/// </summary>
internal sealed class KnowledgeBaseFaults
{
    // Runs are short-lived; the counters of old runs are dropped rather than kept for the life of the process.
    private const int MaxRuns = 10_000;
    private static readonly TimeSpan LongestDelay = TimeSpan.FromMinutes(1);
    private readonly ConcurrentDictionary<string, int> requests = new(StringComparer.Ordinal);

    /// <summary>The fault of this request (null: serve the article), after waiting out an injected delay.</summary>
    public async Task<IResult?> ApplyAsync(string slug, IQueryCollection query, CancellationToken cancellationToken)
    {
        if (query["run"].ToString() is not { Length: > 0 } run)
        {
            return null;
        }

        if (requests.Count >= MaxRuns)
        {
            requests.Clear();
        }

        var request = requests.AddOrUpdate(run + "/" + slug, 1, (_, count) => count + 1);
        if (string.Equals(query["gone"], "true", StringComparison.OrdinalIgnoreCase))
        {
            return Results.Problem(statusCode: StatusCodes.Status410Gone, title: "Article gone", detail: $"Injected permanent failure of '{slug}' (gone=true).", type: ProblemTypes.NotFound);
        }

        if (Count(query, "fail") is var failures && request <= failures)
        {
            return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Knowledge base unavailable",
                detail: $"Injected transient failure {request} of {failures} of '{slug}' (fail={failures}).", type: ProblemTypes.Unavailable);
        }

        if (Count(query, "slow") is var slow && request <= slow)
        {
            var delay = TimeSpan.FromMilliseconds(Count(query, "delayMs"));
            await Task.Delay(delay < LongestDelay ? delay : LongestDelay, cancellationToken);
        }

        return null;
    }

    private static int Count(IQueryCollection query, string name) =>
        int.TryParse(query[name], NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : 0;
}
