namespace Agents.Messaging.Data;

/// <summary>
/// One received message for one consumer endpoint: the row whose lock serialises redeliveries and
/// whose <see cref="Consumed"/> marks that the consumer's effects are committed.
/// </summary>
public sealed class InboxState
{
    /// <summary>The incoming message's MessageId.</summary>
    public Guid MessageId { get; set; }

    /// <summary>Identifies the consumer on its endpoint (MassTransit hashes endpoint name and consumer type).</summary>
    public Guid ConsumerId { get; set; }

    /// <summary>When the message was first received.</summary>
    public DateTime Received { get; set; }

    /// <summary>How many times the message was received (redeliveries included).</summary>
    public int ReceiveCount { get; set; }

    /// <summary>
    /// Set when the consumer's effects are committed. A row is created with it set, in the consumer's transaction
    /// (so only if that commits), to the time of receipt; a row found unset is marked with the time of its consume.
    /// </summary>
    public DateTime? Consumed { get; set; }
}
