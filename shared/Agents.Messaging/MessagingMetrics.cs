using System.Diagnostics.Metrics;

namespace Agents.Messaging;

/// <summary>
/// Counters of the durable-messaging library (meter <c>Agents.Messaging</c>, collected by the service
/// defaults' telemetry with every other <c>Agents.*</c> meter).
/// </summary>
public static class MessagingMetrics
{
    /// <summary>Name of the meter.</summary>
    public const string MeterName = "Agents.Messaging";

    /// <summary>Name of the counter of redelivered messages that the inbox recognised and acknowledged without running the consumer again.</summary>
    public const string InboxDuplicatesName = "agents.messaging.inbox.duplicates";

    /// <summary>
    /// Name of the counter of outbox rows handed to the broker, tagged <c>path</c>: <c>memory</c> (sent right after
    /// the local commit), <c>claim</c> (saved in a scope's explicit transaction, claimed after it) or <c>sweep</c>.
    /// </summary>
    public const string OutboxSentName = "agents.messaging.outbox.sent";

    /// <summary>Name of the histogram of rows sent from memory that one statement marked delivered (or removed).</summary>
    public const string OutboxSettleBatchName = "agents.messaging.outbox.settle.batch_size";

    /// <summary>Name of the gauge of outbox rows due and not yet handed to the broker (measured periodically).</summary>
    public const string OutboxBacklogName = "agents.messaging.outbox.backlog";

    /// <summary>Name of the gauge of how long (seconds) the oldest due outbox row has waited.</summary>
    public const string OutboxAgeName = "agents.messaging.outbox.age";

    /// <summary>Name of the gauge of messages ready in each queue, tagged <c>messaging.destination.name</c> and <c>agents.queue.kind</c>.</summary>
    public const string QueueMessagesName = "agents.messaging.queue.messages";

    private static readonly Meter Meter = new(MeterName);

    internal static readonly Counter<long> InboxDuplicates = Meter.CreateCounter<long>(
        InboxDuplicatesName, unit: "{message}", description: "Redelivered messages acknowledged by the inbox without running the consumer again.");

    internal static readonly Counter<long> OutboxSent = Meter.CreateCounter<long>(
        OutboxSentName, unit: "{message}", description: "Outbox rows handed to the broker, by path (memory, claim or sweep).");

    internal static readonly Histogram<int> OutboxSettleBatch = Meter.CreateHistogram<int>(
        OutboxSettleBatchName, unit: "{row}", description: "Sent outbox rows marked delivered (or removed) by one statement.");
}
