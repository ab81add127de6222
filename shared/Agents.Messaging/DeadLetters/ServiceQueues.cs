using System.Collections.Concurrent;
using MassTransit;

namespace Agents.Messaging.DeadLetters;

/// <summary>
/// The queues this service's bus consumes (recorded as its receive endpoints start): the dead-letter API answers for
/// these only, so a service's API cannot read or move another service's messages.
/// </summary>
public sealed class ServiceQueues : IReceiveEndpointObserver
{
    private readonly ConcurrentDictionary<string, bool> _queues = new(StringComparer.Ordinal);

    /// <summary>The queue names, sorted.</summary>
    public IReadOnlyList<string> Names => [.. _queues.Keys.Order(StringComparer.Ordinal)];

    /// <summary>True when <paramref name="queue"/> is one of this service's queues.</summary>
    public bool Contains(string queue) => _queues.ContainsKey(queue);

    /// <inheritdoc />
    public Task Ready(ReceiveEndpointReady ready)
    {
        // The bus's own temporary endpoint (responses) is auto-deleted and never dead-letters: leave it out.
        var address = ready.InputAddress;
        var temporary = address.Query.Contains("autodelete=", StringComparison.OrdinalIgnoreCase)
            || address.Query.Contains("temporary=true", StringComparison.OrdinalIgnoreCase);
        if (!temporary)
        {
            _queues.TryAdd(address.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries).Last(), true);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task Stopping(ReceiveEndpointStopping stopping) => Task.CompletedTask;

    /// <inheritdoc />
    public Task Completed(ReceiveEndpointCompleted completed) => Task.CompletedTask;

    /// <inheritdoc />
    public Task Faulted(ReceiveEndpointFaulted faulted) => Task.CompletedTask;
}
