using System.Text;
using Agents.ServiceDefaults.Configuration;
using Agents.ServiceDefaults.Messaging;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;

namespace Agents.Messaging.DeadLetters;

/// <summary>A message in an endpoint's <c>_error</c> queue, with the fault MassTransit recorded.</summary>
/// <param name="MessageId">The message's MessageId.</param>
/// <param name="MessageType">Message type URNs (from the envelope's content headers when present).</param>
/// <param name="Reason">MassTransit's <c>MT-Reason</c> (usually <c>fault</c>).</param>
/// <param name="ExceptionType">The exception type of the last failure.</param>
/// <param name="ExceptionMessage">The exception message of the last failure (the reason a person acts on).</param>
/// <param name="FaultedAt">When the message was moved to the error queue.</param>
/// <param name="Body">The message body as received.</param>
public sealed record DeadLetterMessage(
    string? MessageId,
    string? MessageType,
    string? Reason,
    string? ExceptionType,
    string? ExceptionMessage,
    string? FaultedAt,
    string Body);

/// <summary>
/// Lists and redelivers dead-lettered messages: MassTransit moves a message that failed all its
/// retries to <c>&lt;queue&gt;_error</c> with the exception in its headers; redelivery moves it back
/// to <c>&lt;queue&gt;</c> without the fault headers.
/// </summary>
public sealed class DeadLetterQueue(IOptions<BusOptions> options)
{
    private const string ErrorSuffix = "_error";

    /// <summary>Lists up to <paramref name="limit"/> messages waiting in <paramref name="queue"/>'s error queue; they stay there.</summary>
    /// <param name="queue">The endpoint's queue name (with its prefix), not the error queue's.</param>
    /// <param name="limit">Most messages to return.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    public async Task<IReadOnlyList<DeadLetterMessage>> ListAsync(string queue, int limit = 100, CancellationToken cancellationToken = default)
    {
        await using var connection = await ConnectAsync(cancellationToken);
        if (!await ErrorQueueExistsAsync(connection, queue, cancellationToken))
        {
            return [];
        }

        await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        var messages = new List<DeadLetterMessage>();
        ulong lastTag = 0;
        while (messages.Count < limit)
        {
            var result = await channel.BasicGetAsync(queue + ErrorSuffix, autoAck: false, cancellationToken);
            if (result is null)
            {
                break;
            }

            lastTag = result.DeliveryTag;
            messages.Add(ToDeadLetter(result));
        }

        if (lastTag > 0)
        {
            await channel.BasicNackAsync(lastTag, multiple: true, requeue: true, cancellationToken);
        }

        return messages;
    }

    /// <summary>
    /// Moves dead-lettered messages back to <paramref name="queue"/>: the one with
    /// <paramref name="messageId"/>, or all when it is null. Returns how many were moved.
    /// </summary>
    /// <param name="queue">The endpoint's queue name (with its prefix).</param>
    /// <param name="messageId">The MessageId to redeliver; null redelivers every message.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    public async Task<int> RedeliverAsync(string queue, string? messageId = null, CancellationToken cancellationToken = default)
    {
        await using var connection = await ConnectAsync(cancellationToken);
        if (!await ErrorQueueExistsAsync(connection, queue, cancellationToken))
        {
            return 0;
        }

        await using var channel = await connection.CreateChannelAsync(
            new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), cancellationToken);
        var moved = 0;
        var skipped = new List<ulong>();
        while (true)
        {
            var result = await channel.BasicGetAsync(queue + ErrorSuffix, autoAck: false, cancellationToken);
            if (result is null)
            {
                break;
            }

            if (messageId is not null && !string.Equals(result.BasicProperties.MessageId, messageId, StringComparison.OrdinalIgnoreCase))
            {
                skipped.Add(result.DeliveryTag);
                continue;
            }

            var properties = new BasicProperties(result.BasicProperties)
            {
                Headers = result.BasicProperties.Headers?
                    .Where(h => !h.Key.StartsWith("MT-Fault-", StringComparison.OrdinalIgnoreCase) && !string.Equals(h.Key, "MT-Reason", StringComparison.OrdinalIgnoreCase))
                    .ToDictionary(h => h.Key, h => h.Value),
            };

            // Publish confirmed before the ack: a crash in between leaves a duplicate (absorbed by the inbox), never a loss.
            await channel.BasicPublishAsync(string.Empty, queue, mandatory: true, properties, result.Body, cancellationToken);
            await channel.BasicAckAsync(result.DeliveryTag, multiple: false, cancellationToken);
            moved++;
            if (messageId is not null)
            {
                break;
            }
        }

        foreach (var tag in skipped)
        {
            await channel.BasicNackAsync(tag, multiple: false, requeue: true, cancellationToken);
        }

        return moved;
    }

    // MassTransit declares the error queue at the first fault; before that there is nothing to list.
    private static async Task<bool> ErrorQueueExistsAsync(IConnection connection, string queue, CancellationToken cancellationToken)
    {
        await using var probe = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        try
        {
            await probe.QueueDeclarePassiveAsync(queue + ErrorSuffix, cancellationToken);
            return true;
        }
        catch (RabbitMQ.Client.Exceptions.OperationInterruptedException ex) when (ex.ShutdownReason?.ReplyCode == 404)
        {
            return false;
        }
    }

    private async Task<IConnection> ConnectAsync(CancellationToken cancellationToken)
    {
        var broker = ConnectionStrings.ParseRabbitMq(options.Value.RabbitMq);
        var factory = new ConnectionFactory
        {
            HostName = broker.Host,
            Port = broker.Port,
            VirtualHost = broker.VirtualHost,
            UserName = broker.Username,
            Password = broker.Password,
            ClientProvidedName = "agents-dead-letters",
        };
        if (broker.UseTls)
        {
            factory.Ssl = new SslOption(broker.Host) { Enabled = true };
        }

        return await factory.CreateConnectionAsync(cancellationToken);
    }

    private static DeadLetterMessage ToDeadLetter(BasicGetResult result)
    {
        var headers = result.BasicProperties.Headers ?? new Dictionary<string, object?>();
        string? Header(string key) => headers.TryGetValue(key, out var value) ? value switch
        {
            byte[] bytes => Encoding.UTF8.GetString(bytes),
            null => null,
            _ => value.ToString(),
        } : null;

        return new DeadLetterMessage(
            result.BasicProperties.MessageId,
            Header("MT-MessageType") ?? result.BasicProperties.Type,
            Header("MT-Reason"),
            Header("MT-Fault-ExceptionType"),
            Header("MT-Fault-Message"),
            Header("MT-Fault-Timestamp"),
            Encoding.UTF8.GetString(result.Body.Span));
    }
}
