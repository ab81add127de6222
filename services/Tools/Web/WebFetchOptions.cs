using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Agents.Tools.Web;

/// <summary>Limits of <c>web.fetch</c> (section <c>WebFetch</c>).</summary>
public sealed class WebFetchOptions
{
    public const string Section = "WebFetch";

    /// <summary>URL prefixes (scheme, host, port and path prefix) the tool may fetch; nothing else.</summary>
    public string[] Allowlist { get; set; } = [];

    /// <summary>Time limit of one fetch, redirects included.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00", ErrorMessage = "WebFetch:Timeout must be between 00:00:00.100 and 00:01:00.")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Bytes read from a response at most; the rest is cut off and the output says so.</summary>
    [Range(1024, 10 * 1024 * 1024, ErrorMessage = "WebFetch:MaxBytes must be between {1} and {2}.")]
    public int MaxBytes { get; set; } = 256 * 1024;

    /// <summary>Characters of extracted text returned at most.</summary>
    [Range(100, 1_000_000, ErrorMessage = "WebFetch:MaxTextChars must be between {1} and {2}.")]
    public int MaxTextChars { get; set; } = 20_000;

    /// <summary>Redirects followed at most (each must be allowlisted too).</summary>
    [Range(0, 10, ErrorMessage = "WebFetch:MaxRedirects must be between {1} and {2}.")]
    public int MaxRedirects { get; set; } = 3;
}

internal sealed class WebFetchOptionsValidator : IValidateOptions<WebFetchOptions>
{
    public ValidateOptionsResult Validate(string? name, WebFetchOptions options)
    {
        if (options.Allowlist.Length == 0)
        {
            return ValidateOptionsResult.Fail("WebFetch:Allowlist is empty: list the URL prefixes web.fetch may fetch, e.g. 'http://127.0.0.1:5203/kb/'.");
        }

        var failures = new List<string>();
        for (var i = 0; i < options.Allowlist.Length; i++)
        {
            var entry = options.Allowlist[i];
            if (!Uri.TryCreate(entry, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
                || !string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment) || !string.IsNullOrEmpty(uri.UserInfo))
            {
                failures.Add($"WebFetch:Allowlist:{i} '{entry}' must be an absolute http(s) URL prefix without user info, query or fragment.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
