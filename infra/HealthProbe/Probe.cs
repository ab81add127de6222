namespace Agents.HealthProbe;

/// <summary>
/// GET one health URL and turn the answer into an exit code: 0 for a 2xx answer, 1 otherwise
/// (another status, no answer within the timeout, or nothing listening).
/// </summary>
internal static class Probe
{
    public const string DefaultUrl = "http://127.0.0.1:8080/health/live";

    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(4);

    public static async Task<int> RunAsync(string[] args, TextWriter error, CancellationToken cancellationToken)
    {
        var url = args.Length > 0 ? args[0] : DefaultUrl;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            await error.WriteLineAsync($"health probe: '{url}' is not an absolute http(s) URL.").ConfigureAwait(false);
            return 2;
        }

        using var client = new HttpClient { Timeout = Timeout };
        try
        {
            using var response = await client.GetAsync(uri, cancellationToken).ConfigureAwait(false);
            if (response.IsSuccessStatusCode)
            {
                return 0;
            }

            await error.WriteLineAsync($"health probe: {uri} answered {(int)response.StatusCode}.").ConfigureAwait(false);
            return 1;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            await error.WriteLineAsync($"health probe: {uri} did not answer: {e.Message}").ConfigureAwait(false);
            return 1;
        }
    }
}
