using System.Net;
using System.Text;

namespace Agents.Cli.Tests;

/// <summary>
/// Answers the CLI's requests with canned responses by method and path, and records what it was sent: enough to test
/// parsing and output. The commands against the real platform are tested end to end (Agents.EndToEnd.Tests, CliTests).
/// </summary>
internal sealed class CannedGateway : HttpMessageHandler
{
    private readonly Dictionary<string, (HttpStatusCode Status, string Body, string ContentType)> _answers = new(StringComparer.Ordinal);

    public List<(HttpMethod Method, string PathAndQuery, Dictionary<string, string> Headers, string? Body)> Requests { get; } = [];

    public CannedGateway Answer(string method, string pathAndQuery, HttpStatusCode status, string body, string contentType = "application/json")
    {
        _answers[$"{method} {pathAndQuery}"] = (status, body, contentType);
        return this;
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var headers = request.Headers.ToDictionary(h => h.Key, h => string.Join(",", h.Value), StringComparer.OrdinalIgnoreCase);
        var body = request.Content is null ? null : await request.Content.ReadAsStringAsync(cancellationToken);
        Requests.Add((request.Method, request.RequestUri!.PathAndQuery, headers, body));
        if (!_answers.TryGetValue($"{request.Method} {request.RequestUri.PathAndQuery}", out var answer))
        {
            answer = (HttpStatusCode.NotFound, """{"type":"https://agents.dev/problems/not-found","title":"Not canned","status":404,"detail":"nothing here"}""", "application/problem+json");
        }

        return new HttpResponseMessage(answer.Status) { Content = new StringContent(answer.Body, Encoding.UTF8, answer.ContentType) };
    }
}

/// <summary>Runs the CLI in-process with captured output.</summary>
internal sealed class CliRun
{
    public required int ExitCode { get; init; }

    public required string Out { get; init; }

    public required string Error { get; init; }

    public static async Task<CliRun> RunAsync(CannedGateway? gateway, Dictionary<string, string>? variables = null, string? profilePath = null, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        variables ??= new Dictionary<string, string> { ["AGENTS_URL"] = "http://gateway.test", ["AGENTS_API_KEY"] = "test-key" };
        var environment = new CliEnvironment(output, error, name => variables.GetValueOrDefault(name), profilePath ?? Path.Combine(Path.GetTempPath(), $"no-profiles-{Guid.NewGuid():N}.json"), gateway);
        var exit = await AgentsCli.RunAsync(args, environment, CancellationToken.None);
        return new CliRun { ExitCode = exit, Out = output.ToString(), Error = error.ToString() };
    }
}
