using Agents.Messaging.Data;
using MassTransit;
using MassTransit.Context;
using MassTransit.Serialization;

namespace Agents.Messaging.Outbox;

/// <summary>Turns a captured <see cref="SendContext{T}"/> into an <see cref="OutboxMessage"/> row.</summary>
internal static class OutboxRows
{
    public static OutboxMessage Create<T>(SendContext<T> context, TimeProvider timeProvider, Guid? inboxMessageId = null, Guid? inboxConsumerId = null)
        where T : class
    {
        var messageId = context.MessageId ?? throw new MessageException(typeof(T), "An outbox message needs a MessageId.");
        var now = timeProvider.GetUtcNow().UtcDateTime;
        var serializer = SystemTextJsonMessageSerializer.Instance;
        var row = new OutboxMessage
        {
            MessageId = messageId,
            InboxMessageId = inboxMessageId,
            InboxConsumerId = inboxConsumerId,
            Created = now,
            ConversationId = context.ConversationId,
            CorrelationId = context.CorrelationId,
            InitiatorId = context.InitiatorId,
            RequestId = context.RequestId,
            SourceAddress = context.SourceAddress,
            DestinationAddress = context.DestinationAddress,
            ResponseAddress = context.ResponseAddress,
            FaultAddress = context.FaultAddress,
            SentTime = context.SentTime ?? now,
            ContentType = context.ContentType?.ToString() ?? context.Serialization.DefaultContentType.ToString(),
            MessageType = string.Join(";", context.SupportedMessageTypes),
            Body = context.Serializer.GetMessageBody(context).GetString(),
            HeadersJson = serializer.SerializeDictionary(context.Headers.GetAll()),
        };

        if (context.TimeToLive is { } ttl)
        {
            row.ExpirationTime = now + ttl;
        }

        // A delay is how MassTransit's schedulers express "not before": keep it in the row, never give it to the broker.
        if (context.Delay is { } delay && delay > TimeSpan.Zero)
        {
            row.DueTime = now + delay;
            row.ScheduleTokenId = context.ScheduledMessageId;
            context.Delay = null;
        }

        if (context is TransportSendContext<T> transportContext)
        {
            var properties = new Dictionary<string, object>(StringComparer.OrdinalIgnoreCase);
            transportContext.WritePropertiesTo(properties);
            row.PropertiesJson = serializer.SerializeDictionary(properties);
        }

        return row;
    }
}
