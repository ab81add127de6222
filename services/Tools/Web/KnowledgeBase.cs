using System.Reflection;
using Agents.ServiceDefaults;

namespace Agents.Tools.Web;

/// <summary>
/// A tiny local knowledge-base site (static articles embedded in the assembly), served under
/// <c>/kb/</c> so that <c>web.fetch</c> has something real to fetch without the internet. Evaluation suites make it
/// fail or slow down per run (<see cref="KnowledgeBaseFaults"/>).
/// </summary>
internal static class KnowledgeBase
{
    private const string ResourcePrefix = "kb/";
    private static readonly Assembly Assembly = typeof(KnowledgeBase).Assembly;

    public static IReadOnlyList<string> Slugs { get; } = Assembly.GetManifestResourceNames()
        .Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal) && n.EndsWith(".html", StringComparison.Ordinal))
        .Select(n => n[ResourcePrefix.Length..^".html".Length])
        .Where(s => s != "index")
        .Order(StringComparer.Ordinal)
        .ToList();

    public static WebApplication MapKnowledgeBase(this WebApplication app)
    {
        app.MapGet("/kb/", () => Results.Content(Index(), "text/html; charset=utf-8"));
        var faults = new KnowledgeBaseFaults();
        app.MapGet("/kb/{slug}", async (string slug, HttpRequest request, CancellationToken cancellationToken) =>
        {
            if (await faults.ApplyAsync(slug, request.Query, cancellationToken) is { } fault)
            {
                return fault;
            }

            var html = Slugs.Contains(slug, StringComparer.Ordinal) ? Read(slug) : null;
            return html is null
                ? Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Article not found", detail: $"The knowledge base has no article '{slug}'. See /kb/ for the list.", type: ProblemTypes.NotFound)
                : Results.Content(html, "text/html; charset=utf-8");
        });
        return app;
    }

    private static string Index()
    {
        var items = string.Join("\n", Slugs.Select(s => $"    <li><a href=\"/kb/{s}\">{s}</a></li>"));
        return $"<!DOCTYPE html>\n<html><head><title>Knowledge base</title></head><body>\n  <h1>Knowledge base</h1>\n  <ul>\n{items}\n  </ul>\n</body></html>\n";
    }

    private static string? Read(string slug)
    {
        using var stream = Assembly.GetManifestResourceStream(ResourcePrefix + slug + ".html");
        if (stream is null)
        {
            return null;
        }

        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
