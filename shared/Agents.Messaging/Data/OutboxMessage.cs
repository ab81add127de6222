using System.ComponentModel.DataAnnotations.Schema;
using MassTransit;
using MassTransit.Metadata;
using MassTransit.Middleware;
using MassTransit.Serialization;

namespace Agents.Messaging.Data;

/// <summary>
/// An outgoing message stored in the same transaction as the work that produced it, sent by the
/// delivery service after commit (and not before <see cref="DueTime"/> when it was scheduled).
/// </summary>
public sealed class OutboxMessage : OutboxMessageContext
{
    private Headers? _headers;
    private IReadOnlyDictionary<string, object>? _properties;

    /// <summary>Insertion order; delivery follows it within one batch.</summary>
    public long SequenceNumber { get; set; }

    /// <summary>The message's MessageId (the consumer inbox deduplicates on it).</summary>
    public Guid MessageId { get; set; }

    /// <summary>Set for messages produced by a consumer: the incoming message's id.</summary>
    public Guid? InboxMessageId { get; set; }

    /// <summary>Set for messages produced by a consumer: the consumer's id.</summary>
    public Guid? InboxConsumerId { get; set; }

    /// <summary>When the row was stored.</summary>
    public DateTime Created { get; set; }

    /// <summary>Not sent before this time (scheduled messages); null means at once.</summary>
    public DateTime? DueTime { get; set; }

    /// <summary>The scheduling token of a scheduled message; unscheduling deletes by it.</summary>
    public Guid? ScheduleTokenId { get; set; }

    /// <summary>
    /// When the broker confirmed it; null while pending. With <see cref="DurableMessagingOptions.RemoveSentRows"/>
    /// a sent row is deleted instead.
    /// </summary>
    public DateTime? Delivered { get; set; }

    /// <summary>Delivery attempts that failed at the broker.</summary>
    public int FailedAttempts { get; set; }

    /// <inheritdoc />
    public Guid? ConversationId { get; set; }

    /// <inheritdoc />
    public Guid? CorrelationId { get; set; }

    /// <inheritdoc />
    public Guid? InitiatorId { get; set; }

    /// <inheritdoc />
    public Guid? RequestId { get; set; }

    /// <inheritdoc />
    public Uri? SourceAddress { get; set; }

    /// <inheritdoc />
    public Uri? DestinationAddress { get; set; }

    /// <inheritdoc />
    public Uri? ResponseAddress { get; set; }

    /// <inheritdoc />
    public Uri? FaultAddress { get; set; }

    /// <inheritdoc />
    public DateTime? ExpirationTime { get; set; }

    /// <inheritdoc />
    public DateTime? SentTime { get; set; }

    /// <summary>The message headers, serialised as JSON.</summary>
    public string? HeadersJson { get; set; }

    /// <summary>Transport properties (routing key, priority, ...), serialised as JSON.</summary>
    public string? PropertiesJson { get; set; }

    /// <inheritdoc />
    public string ContentType { get; set; } = string.Empty;

    /// <inheritdoc />
    public string MessageType { get; set; } = string.Empty;

    /// <summary>The serialised message body.</summary>
    public string Body { get; set; } = string.Empty;

    Guid? MessageContext.MessageId => MessageId;

    /// <inheritdoc />
    [NotMapped]
    public Headers Headers => _headers ??= new DictionarySendHeaders(
        string.IsNullOrEmpty(HeadersJson)
            ? new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase)
            : SystemTextJsonMessageSerializer.Instance.DeserializeDictionary<object?>(HeadersJson)!);

    /// <inheritdoc />
    [NotMapped]
    public HostInfo Host => HostMetadataCache.Host;

    /// <inheritdoc />
    [NotMapped]
    public IReadOnlyDictionary<string, object> Properties => _properties ??=
        string.IsNullOrEmpty(PropertiesJson)
            ? new Dictionary<string, object>()
            : SystemTextJsonMessageSerializer.Instance.DeserializeDictionary<object>(PropertiesJson) ?? new Dictionary<string, object>();
}
