using MassTransit;

namespace Agents.ServiceDefaults.Messaging;

/// <summary>
/// The project's messaging conventions, applied to every bus: kebab-case endpoint names with an
/// optional prefix (applied to message-type exchanges too, so environments or test runs that share a
/// broker never see each other's messages), exponential retry that skips permanent failures, and a
/// concurrency limit.
/// After the retries a message is faulted and moved to its endpoint's <c>_error</c> queue
/// (MassTransit's default), with the exception in its headers.
/// </summary>
public static class BusConventions
{
    /// <summary>
    /// The endpoint name formatter for <paramref name="options"/>. Names include the consumer's namespace,
    /// so two services that each consume the same event (say, <c>ToolAnnounced</c>) get a queue each
    /// instead of competing for one; replicas of one service still share theirs.
    /// </summary>
    public static IEndpointNameFormatter EndpointNameFormatter(BusOptions options) =>
        new KebabCaseEndpointNameFormatter(string.IsNullOrEmpty(options.QueuePrefix) ? null : options.QueuePrefix, true);

    /// <summary>Applies retry and concurrency conventions to a bus (any transport).</summary>
    public static void Apply(IBusFactoryConfigurator configurator, BusOptions options)
    {
        if (!string.IsNullOrEmpty(options.QueuePrefix))
        {
            configurator.MessageTopology.SetEntityNameFormatter(
                new PrefixEntityNameFormatter(configurator.MessageTopology.EntityNameFormatter, options.QueuePrefix + "."));
        }

        var retry = options.Retry;
        configurator.UseMessageRetry(r =>
        {
            r.Exponential(retry.Limit, retry.MinInterval, retry.MaxInterval, retry.IntervalDelta);
            r.Ignore<PermanentFailureException>();
        });

        if (options.ConcurrentMessageLimit is { } limit)
        {
            configurator.ConcurrentMessageLimit = limit;
        }
    }
}
