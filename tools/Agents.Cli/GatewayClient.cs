using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Agents.Cli;

/// <summary>An answer of the gateway: status, JSON body (when there is one) and headers.</summary>
internal sealed record ApiAnswer(HttpStatusCode Status, JsonNode? Body, HttpResponseHeaders Headers);

/// <summary>
/// Calls the gateway with the API key. A refusal (4xx) or failure (5xx, network) becomes a <see cref="CliException"/>
/// carrying the problem details' title and detail and the matching exit code.
/// </summary>
internal sealed class GatewayClient : IDisposable
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(60);
    private readonly HttpClient _http;

    public GatewayClient(Connection connection, HttpMessageHandler? handler)
    {
        _http = handler is null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
        _http.BaseAddress = connection.Url;
        _http.Timeout = Timeout.InfiniteTimeSpan;
        _http.DefaultRequestHeaders.Add("X-Api-Key", connection.ApiKey);
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("agents-cli", typeof(GatewayClient).Assembly.GetName().Version?.ToString(3) ?? "1.0"));
    }

    public Task<ApiAnswer> GetAsync(string path, CancellationToken cancellationToken) => SendAsync(HttpMethod.Get, path, null, null, cancellationToken);

    public Task<ApiAnswer> PostAsync(string path, JsonNode? body, CancellationToken cancellationToken, IReadOnlyDictionary<string, string>? headers = null) =>
        SendAsync(HttpMethod.Post, path, body?.ToJsonString(), headers, cancellationToken);

    public Task<ApiAnswer> SendAsync(HttpMethod method, string path, string? json, IReadOnlyDictionary<string, string>? headers, CancellationToken cancellationToken) =>
        SendAsync(() =>
        {
            var request = new HttpRequestMessage(method, Relative(path));
            if (json is not null)
            {
                request.Content = new StringContent(json, Encoding.UTF8, "application/json");
            }

            foreach (var (name, value) in headers ?? new Dictionary<string, string>())
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }

            return request;
        }, cancellationToken);

    /// <summary>Opens a Server-Sent Events stream; the caller reads it and disposes the response.</summary>
    public async Task<HttpResponseMessage> OpenStreamAsync(string path, long lastEventId, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Relative(path));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (lastEventId > 0)
        {
            request.Headers.TryAddWithoutValidation("Last-Event-ID", lastEventId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        }
        catch (HttpRequestException ex)
        {
            throw Unreachable(ex);
        }

        if (!response.IsSuccessStatusCode)
        {
            using (response)
            {
                throw await RefusalAsync(response, cancellationToken);
            }
        }

        return response;
    }

    public void Dispose() => _http.Dispose();

    private async Task<ApiAnswer> SendAsync(Func<HttpRequestMessage> create, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(RequestTimeout);
        HttpResponseMessage response;
        using var request = create();
        try
        {
            response = await _http.SendAsync(request, timeout.Token);
        }
        catch (HttpRequestException ex)
        {
            throw Unreachable(ex);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new CliException(ExitCodes.Unavailable, $"{request.Method} {request.RequestUri}: no answer within {RequestTimeout.TotalSeconds:0} s.");
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                throw await RefusalAsync(response, cancellationToken);
            }

            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            return new ApiAnswer(response.StatusCode, string.IsNullOrWhiteSpace(text) ? null : JsonNode.Parse(text), response.Headers);
        }
    }

    private CliException Unreachable(HttpRequestException ex) =>
        new(ExitCodes.Unavailable, $"The gateway at {_http.BaseAddress} could not be reached: {ex.Message}");

    private static async Task<CliException> RefusalAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var status = (int)response.StatusCode;
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        string message;
        try
        {
            var problem = string.IsNullOrWhiteSpace(text) ? null : JsonNode.Parse(text) as JsonObject;
            var title = problem?["title"]?.GetValue<string>();
            var detail = problem?["detail"]?.GetValue<string>();
            var errors = problem?["errors"] is JsonObject fields
                ? string.Concat(fields.Select(f => $"\n  {f.Key}: {string.Join(" ", (f.Value as JsonArray ?? []).Select(e => e?.ToString()))}"))
                : string.Empty;
            message = title is null && detail is null ? $"{status} {response.ReasonPhrase}: {text}" : $"{status} {title}: {detail}{errors}";
        }
        catch (System.Text.Json.JsonException)
        {
            message = $"{status} {response.ReasonPhrase}: {text}";
        }

        return new CliException(status is >= 400 and < 500 ? ExitCodes.Refused : ExitCodes.Unavailable, message);
    }

    private static Uri Relative(string path) => new(path.TrimStart('/'), UriKind.Relative);
}
