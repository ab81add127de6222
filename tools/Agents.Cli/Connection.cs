using System.Text.Json;

namespace Agents.Cli;

/// <summary>The gateway to talk to and the API key to use.</summary>
internal sealed record Connection(Uri Url, string ApiKey)
{
    public const string UrlVariable = "AGENTS_URL";
    public const string ApiKeyVariable = "AGENTS_API_KEY";
    public const string ProfileVariable = "AGENTS_PROFILE";

    /// <summary>
    /// Each setting from the first place that has it: the option, the environment (<c>AGENTS_URL</c>,
    /// <c>AGENTS_API_KEY</c>), then the profile (<c>--profile</c>, <c>AGENTS_PROFILE</c>, else <c>default</c>) of the profile file:
    /// <code>{ "default": { "url": "http://127.0.0.1:5000", "apiKey": "..." }, "ops": { ... } }</code>
    /// </summary>
    public static Connection Resolve(string? url, string? apiKey, string? profile, CliEnvironment environment)
    {
        url ??= NonEmpty(environment.Variable(UrlVariable));
        apiKey ??= NonEmpty(environment.Variable(ApiKeyVariable));
        var profileName = profile ?? NonEmpty(environment.Variable(ProfileVariable));
        if (url is null || apiKey is null || profileName is not null)
        {
            var stored = ReadProfile(environment.ProfilePath, profileName ?? "default", required: profileName is not null);
            url ??= stored?.Url;
            apiKey ??= stored?.ApiKey;
        }

        if (url is null)
        {
            throw new CliException(ExitCodes.Usage, $"No gateway URL: give --url, set {UrlVariable}, or put \"url\" in a profile of {environment.ProfilePath}.");
        }

        if (apiKey is null)
        {
            throw new CliException(ExitCodes.Usage, $"No API key: give --api-key, set {ApiKeyVariable}, or put \"apiKey\" in a profile of {environment.ProfilePath}.");
        }

        if (!Uri.TryCreate(url.EndsWith('/') ? url : url + "/", UriKind.Absolute, out var parsed) || parsed.Scheme is not ("http" or "https"))
        {
            throw new CliException(ExitCodes.Usage, $"'{url}' is not an http(s) URL of the gateway.");
        }

        return new Connection(parsed, apiKey);
    }

    private sealed record Profile(string? Url, string? ApiKey);

    private static Profile? ReadProfile(string path, string name, bool required)
    {
        if (!File.Exists(path))
        {
            return required ? throw new CliException(ExitCodes.Usage, $"Profile '{name}' asked for, but there is no profile file {path}.") : null;
        }

        Dictionary<string, Profile>? profiles;
        try
        {
            profiles = JsonSerializer.Deserialize<Dictionary<string, Profile>>(File.ReadAllText(path), new JsonSerializerOptions(JsonSerializerDefaults.Web));
        }
        catch (JsonException ex)
        {
            throw new CliException(ExitCodes.Usage, $"The profile file {path} is not valid: {ex.Message}");
        }

        if (profiles is not null && profiles.TryGetValue(name, out var profile))
        {
            return profile;
        }

        return required ? throw new CliException(ExitCodes.Usage, $"There is no profile '{name}' in {path}.") : null;
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
