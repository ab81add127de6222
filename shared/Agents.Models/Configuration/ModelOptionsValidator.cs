using Microsoft.Extensions.Options;

namespace Agents.Models;

/// <summary>
/// Validates a role's <see cref="ModelOptions"/> at start, with messages that name the setting
/// (e.g. <c>Models:Planner:Endpoint is required when Provider is OpenAI.</c>).
/// </summary>
internal sealed class ModelOptionsValidator : IValidateOptions<ModelOptions>
{
    public ValidateOptionsResult Validate(string? name, ModelOptions options)
    {
        if (name is null || !ModelRoles.All.Contains(name))
        {
            return ValidateOptionsResult.Skip;
        }

        var errors = Errors(ModelRoles.SectionOf(name), options).ToList();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    internal static IEnumerable<string> Errors(string section, ModelOptions options)
    {
        if (!Enum.IsDefined(options.Provider))
        {
            yield return $"{section}:Provider '{options.Provider}' is not supported. Use one of: {string.Join(", ", Enum.GetNames<ModelProvider>())}.";
            yield break;
        }

        if (options.Provider != ModelProvider.Deterministic)
        {
            if (string.IsNullOrWhiteSpace(options.Endpoint))
            {
                yield return $"{section}:Endpoint is required when Provider is {options.Provider}.";
            }
            else if (!Uri.TryCreate(options.Endpoint, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                yield return $"{section}:Endpoint '{options.Endpoint}' is not an absolute http or https URL.";
            }

            if (string.IsNullOrWhiteSpace(options.Model))
            {
                yield return $"{section}:Model is required when Provider is {options.Provider}.";
            }
        }

        if (options.MaxOutputTokens is < 1 or > 1_000_000)
        {
            yield return $"{section}:MaxOutputTokens must be between 1 and 1000000 (was {options.MaxOutputTokens}).";
        }

        if (options.Temperature is { } temperature && (float.IsNaN(temperature) || temperature < 0 || temperature > 2))
        {
            yield return $"{section}:Temperature must be between 0 and 2 (was {temperature}).";
        }

        if (options.TimeoutSeconds is < 1 or > 3600)
        {
            yield return $"{section}:TimeoutSeconds must be between 1 and 3600 (was {options.TimeoutSeconds}).";
        }

        var deterministic = options.Deterministic;
        if (deterministic.FailFirstCalls < 0)
        {
            yield return $"{section}:Deterministic:FailFirstCalls must not be negative (was {deterministic.FailFirstCalls}).";
        }

        if (deterministic.LatencyMilliseconds is < 0 or > 600_000)
        {
            yield return $"{section}:Deterministic:LatencyMilliseconds must be between 0 and 600000 (was {deterministic.LatencyMilliseconds}).";
        }
    }
}
