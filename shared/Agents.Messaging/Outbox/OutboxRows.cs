using Agents.Messaging.Data;
using Agents.Messaging.Scheduling;
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
        var due = TakeDueTime(context);
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
            HeadersJson = serializer.SerializeDictionary(context.Headers.GetAll().Where(h => h.Key != DueTimePipe<T>.Header)),
        };

        if (context.TimeToLive is { } ttl)
        {
            row.ExpirationTime = now + ttl;
        }

        // "Not before" is kept in the row and enforced by the delivery service, never handed to the broker
        // (RabbitMQ here has no delayed-exchange plugin).
        if (due is not null || (context.Delay is { } delay && delay > TimeSpan.Zero))
        {
            row.DueTime = due ?? now + context.Delay;
            row.ScheduleTokenId = context.ScheduledMessageId
                ?? (Guid.TryParse(context.Headers.Get<string>(MessageHeaders.SchedulingTokenId), out var token) ? token : null);
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

    private static DateTime? TakeDueTime<T>(SendContext<T> context)
        where T : class =>
        context.Headers.Get<string>(DueTimePipe<T>.Header) is { } text
            && DateTime.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.RoundtripKind, out var due)
            ? due.ToUniversalTime()
            : null;
}
