using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Agents.Testing;

/// <summary>
/// Walks every route of a service's route table (its <see cref="EndpointDataSource"/>) with malformed and odd input:
/// odd route values, bad query values, wrong and random bodies (broken JSON, wrong types, NULs, lone surrogates, huge
/// numbers and strings, deep nesting, unknown fields), wrong content types and odd headers. Each answer must be below
/// 500, and every 4xx must be problem details; a request may take at most <see cref="RequestTimeout"/> (no hang).
/// Deterministic (a fixed seed) and bounded: <see cref="CasesPerRoute"/> requests per route and method.
/// </summary>
public sealed class RouteFuzzer(Func<HttpClient> createClient)
{
    /// <summary>Requests per route and method (the fixed cases first, then random bodies).</summary>
    public int CasesPerRoute { get; init; } = 28;

    /// <summary>The longest one request may take.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Route patterns not walked (e.g. health checks that answer 503 by design when a dependency is down).</summary>
    public IReadOnlyList<string> Excluded { get; init; } = ["/health/live", "/health/ready"];

    /// <summary>The seed of the random bodies.</summary>
    public int Seed { get; init; } = 20261206;

    /// <summary>An answer that broke the rules.</summary>
    public sealed record Finding(string Method, string Url, string Case, int Status, string? ContentType, string Body)
    {
        public override string ToString() => $"{Method} {Url} [{Case}] → {Status} {ContentType}: {(Body.Length > 300 ? Body[..300] + "…" : Body)}";
    }

    /// <summary>The routes of <paramref name="services"/>' route table: pattern and HTTP methods.</summary>
    public IReadOnlyList<(RoutePattern Pattern, string Method)> Routes(IServiceProvider services) =>
        [.. services.GetRequiredService<EndpointDataSource>().Endpoints
            .OfType<RouteEndpoint>()
            .Where(e => !Excluded.Contains(e.RoutePattern.RawText ?? string.Empty, StringComparer.OrdinalIgnoreCase))
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["GET"]).Select(m => (e.RoutePattern, m)))
            .Distinct()];

    /// <summary>Walks every route; returns what broke the rules (empty: nothing) and how many requests were sent.</summary>
    public async Task<(IReadOnlyList<Finding> Findings, int Requests)> RunAsync(IServiceProvider services)
    {
        var random = new Random(Seed);
        var findings = new List<Finding>();
        var requests = 0;
        using var client = createClient();
        foreach (var (pattern, method) in Routes(services))
        {
            var cases = Cases(method, random).Take(CasesPerRoute).ToList();
            for (var i = 0; i < cases.Count; i++)
            {
                var (name, query, content, headers) = cases[i];
                var url = Path(pattern, i, random) + query;
                using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(url, UriKind.Relative)) { Content = content };
                foreach (var (header, value) in headers)
                {
                    request.Headers.TryAddWithoutValidation(header, value);
                }

                requests++;
                using var timeout = new CancellationTokenSource(RequestTimeout);
                var watch = Stopwatch.StartNew();
                try
                {
                    using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
                    var status = (int)response.StatusCode;
                    var type = response.Content.Headers.ContentType?.MediaType;
                    var body = type == "text/event-stream" ? "(event stream)" : await response.Content.ReadAsStringAsync(timeout.Token);
                    if (status >= 500 || (status >= 400 && type != "application/problem+json"))
                    {
                        findings.Add(new Finding(method, url, name, status, type, body));
                    }
                }
                catch (OperationCanceledException) when (timeout.IsCancellationRequested)
                {
                    findings.Add(new Finding(method, url, name, 0, null, $"no answer within {RequestTimeout} ({watch.Elapsed})"));
                }
            }
        }

        return (findings, requests);
    }

    /// <summary>Walks every route and fails the test with every finding; <paramref name="expectedRoute"/> must be among the routes walked.</summary>
    public async Task AssertEveryRouteAnswersWellAsync(IServiceProvider services, string expectedRoute)
    {
        Assert.Contains(Routes(services), r => r.Pattern.RawText == expectedRoute);
        var (findings, requests) = await RunAsync(services);
        Assert.True(requests > Routes(services).Count, $"Only {requests} requests were sent.");
        Assert.True(findings.Count == 0, $"{findings.Count} of {requests} requests broke the rules:\n{string.Join('\n', findings)}");
    }

    private static string Path(RoutePattern pattern, int caseIndex, Random random)
    {
        var path = new StringBuilder();
        foreach (var segment in pattern.PathSegments)
        {
            path.Append('/');
            foreach (var part in segment.Parts)
            {
                path.Append(part switch
                {
                    RoutePatternLiteralPart literal => literal.Content,
                    RoutePatternParameterPart parameter => Uri.EscapeDataString(RouteValue(parameter, caseIndex, random)),
                    RoutePatternSeparatorPart separator => separator.Content,
                    _ => string.Empty,
                });
            }
        }

        return path.Length == 0 ? "/" : path.ToString();
    }

    private static readonly string[] OddRouteValues =
        ["x", "nope", "0", "-1", "99999999999999999999", "a.b-c_d", "ä😀ß", "..", "%00", "\u00e9t\u00e9", "'; drop table tasks; --", new string('r', 300), " "];

    private static string RouteValue(RoutePatternParameterPart parameter, int caseIndex, Random random)
    {
        var constrained = parameter.ParameterPolicies.Select(p => p.Content).ToList();
        if (constrained.Contains("guid") && caseIndex % 4 != 3)
        {
            return Guid.NewGuid().ToString();
        }

        if (constrained.Contains("int") && caseIndex % 4 != 3)
        {
            return caseIndex % 2 == 0 ? "1" : int.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return caseIndex < OddRouteValues.Length ? OddRouteValues[caseIndex] : OddRouteValues[random.Next(OddRouteValues.Length)];
    }

    private static IEnumerable<(string Name, string Query, HttpContent? Content, (string, string)[] Headers)> Cases(string method, Random random)
    {
        var withBody = method is "POST" or "PUT" or "PATCH";
        yield return ("no body", string.Empty, null, []);
        yield return ("bad query values", "?page=99999999999&pageSize=abc&limit=99999999999&status=%00&taskId=nope&day=2026-13-45&top=-1&kind=x", null, []);
        yield return ("repeated and odd query", "?page=1&page=2&status=Running&status=Failed&q=%E2%82&x=" + new string('q', 2000), null, []);
        yield return ("odd headers", string.Empty, withBody ? Json("{}") : null,
            [("Idempotency-Key", new string('k', 5000)), ("If-Match", "not-an-etag"), ("Last-Event-ID", "-1x"), ("Accept", "application/xml")]);
        if (!withBody)
        {
            yield break;
        }

        yield return ("empty JSON", string.Empty, Json(string.Empty), []);
        yield return ("broken JSON", string.Empty, Json("{\"a\":"), []);
        yield return ("null", string.Empty, Json("null"), []);
        yield return ("array", string.Empty, Json("[1,2,3]"), []);
        yield return ("number", string.Empty, Json("1e400"), []);
        yield return ("string", string.Empty, Json("\"text\""), []);
        yield return ("deep nesting", string.Empty, Json(new string('[', 5000) + new string(']', 5000)), []);
        yield return ("text/plain", string.Empty, new StringContent("{\"goal\":\"x\"}", Encoding.UTF8, "text/plain"), []);
        yield return ("form", string.Empty, new FormUrlEncodedContent([new("goal", "x")]), []);
        yield return ("no content type", string.Empty, new ByteArrayContent("{}"u8.ToArray()), []);
        yield return ("unknown field", string.Empty, Json("{\"surprise\":true}"), []);
        foreach (var (name, value) in OddValues)
        {
            yield return ($"fields = {name}", string.Empty, Json(ObjectOf(value)), []);
        }

        while (true)
        {
            var bytes = new byte[random.Next(1, 2048)];
            random.NextBytes(bytes);
            var content = new ByteArrayContent(bytes);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            yield return ("random bytes", string.Empty, content, []);
        }
    }

    private static readonly (string Name, string Json)[] OddValues =
    [
        ("NUL", "\"a\\u0000b\""),
        ("lone surrogate", "\"x\\ud800y\""),
        ("huge string", "\"" + new string('s', 200_000) + "\""),
        ("huge number", "1e400"),
        ("negative", "-1"),
        ("max long", "9223372036854775807"),
        ("bool", "true"),
        ("null", "null"),
        ("list", "[\"a\",1,null,{}]"),
        ("object", "{\"x\":{\"y\":[]}}"),
        ("unicode", "\"\\u202e\\ufeff😀\\u0301\""),
    ];

    // Every field name a route of the platform reads, each set to the same odd value.
    private static readonly string[] FieldNames =
    [
        "goal", "template", "parameters", "steps", "limits", "allowedTools", "name", "description", "version", "text", "source",
        "sourceStepId", "trusted", "role", "content", "query", "kinds", "top", "comment", "tool", "enabled", "reason", "adminRole",
        "approverRoles", "roles", "expectedVersion", "sessionId", "agentId", "id", "kind", "argumentsJson", "dependsOn", "prompt",
    ];

    private static string ObjectOf(string value) => "{" + string.Join(",", FieldNames.Select(f => $"\"{f}\":{value}")) + "}";

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
