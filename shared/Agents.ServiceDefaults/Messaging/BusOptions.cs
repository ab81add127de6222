using System.ComponentModel.DataAnnotations;
using System.Text.RegularExpressions;
using Agents.ServiceDefaults.Configuration;
using Microsoft.Extensions.Options;

namespace Agents.ServiceDefaults.Messaging;

/// <summary>Message bus settings (section <c>Messaging</c>, broker from <c>ConnectionStrings:RabbitMq</c>).</summary>
public sealed class BusOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Messaging";

    /// <summary>The broker URI, bound from <see cref="ConnectionStrings.RabbitMqKey"/>.</summary>
    public string? RabbitMq { get; set; }

    /// <summary>Messages the broker may push to each receive endpoint ahead of acknowledgement.</summary>
    [Range(1, 65535, ErrorMessage = "Messaging:PrefetchCount must be between {1} and {2}.")]
    public int PrefetchCount { get; set; } = 32;

    /// <summary>Messages processed at once per receive endpoint; unset means the prefetch count.</summary>
    [Range(1, 10000, ErrorMessage = "Messaging:ConcurrentMessageLimit must be between {1} and {2}.")]
    public int? ConcurrentMessageLimit { get; set; }

    /// <summary>Prefix for every queue and exchange the service declares (isolates test runs or environments).</summary>
    public string? QueuePrefix { get; set; }

    /// <summary>
    /// Whether MassTransit may send its anonymous usage telemetry (bus and endpoint configuration) to its authors.
    /// Off unless set to true: a platform should not call out to a third party on its own. The environment variable
    /// <c>MASSTRANSIT_USAGE_TELEMETRY</c>, when set, takes precedence (MassTransit reads it itself).
    /// </summary>
    public bool UsageTelemetry { get; set; }

    /// <summary>Retry policy applied to every consumer before a message is moved to its <c>_error</c> queue.</summary>
    [ValidateObjectMembers]
    public RetrySettings Retry { get; set; } = new();
}

/// <summary>Exponential retry settings.</summary>
public sealed class RetrySettings
{
    /// <summary>Retries after the first attempt.</summary>
    [Range(0, 20, ErrorMessage = "Messaging:Retry:Limit must be between {1} and {2}.")]
    public int Limit { get; set; } = 5;

    /// <summary>Smallest wait between attempts.</summary>
    public TimeSpan MinInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Largest wait between attempts.</summary>
    public TimeSpan MaxInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Growth of the wait per attempt.</summary>
    public TimeSpan IntervalDelta { get; set; } = TimeSpan.FromMilliseconds(200);
}

internal sealed partial class BusOptionsValidator : IValidateOptions<BusOptions>
{
    public ValidateOptionsResult Validate(string? name, BusOptions options)
    {
        var failures = new List<string>();
        var error = ConnectionStrings.TryParseRabbitMq(options.RabbitMq, ConnectionStrings.RabbitMqKey, out _);
        if (error is not null)
        {
            failures.Add(error);
        }

        if (!string.IsNullOrEmpty(options.QueuePrefix) && !QueuePrefixPattern().IsMatch(options.QueuePrefix))
        {
            failures.Add($"Messaging:QueuePrefix '{options.QueuePrefix}' may contain only lower-case letters, digits and '-', and must start with a letter.");
        }

        if (options.Retry.MinInterval <= TimeSpan.Zero || options.Retry.MaxInterval < options.Retry.MinInterval)
        {
            failures.Add("Messaging:Retry:MinInterval must be positive and not larger than Messaging:Retry:MaxInterval.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    [GeneratedRegex("^[a-z][a-z0-9-]*$")]
    private static partial Regex QueuePrefixPattern();
}
