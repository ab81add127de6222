using System.Globalization;
using System.Text;
using System.Text.Json;
using Agents.Contracts.Operations;
using Agents.ServiceDefaults.Configuration;
using Agents.ServiceDefaults.Messaging;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;

namespace Agents.Messaging.DeadLetters;

/// <summary>
/// Lists, shows, redelivers and deletes dead-lettered messages: MassTransit moves a message that failed all its
/// retries to <c>&lt;queue&gt;_error</c> with the exception in its headers; redelivery moves it back to
/// <c>&lt;queue&gt;</c> without the fault headers (keeping when it first failed and how often it was redelivered).
/// Every operation takes a filter: messages it refuses are neither shown nor moved (a tenant admin's view).
/// </summary>
public sealed class DeadLetterQueue(IOptions<BusOptions> options, TimeProvider time)
{
    /// <summary>Header kept across redeliveries: when the message first failed for good.</summary>
    public const string FirstFaultedAtHeader = "Agents-First-Faulted-At";

    /// <summary>Header kept across redeliveries: how often the message was redelivered from its error queue.</summary>
    public const string RedeliveriesHeader = "Agents-Redeliveries";

    private const string ErrorSuffix = "_error";

    /// <summary>Most messages looked at in one operation (a tenant admin's view skips other tenants' messages).</summary>
    private const int ScanLimit = 10_000;

    /// <summary>How many dead letters wait in <paramref name="queue"/>'s error queue that <paramref name="visible"/> lets through.</summary>
    public async Task<int> CountAsync(string queue, Func<DeadLetterSummary, bool>? visible = null, CancellationToken cancellationToken = default)
    {
        if (visible is null)
        {
            await using var connection = await ConnectAsync(cancellationToken);
            return (int)await WaitingAsync(connection, queue, cancellationToken);
        }

        return (await ListAsync(queue, ScanLimit, visible, cancellationToken)).Count;
    }

    /// <summary>Lists up to <paramref name="limit"/> messages waiting in <paramref name="queue"/>'s error queue; they stay there.</summary>
    /// <param name="queue">The endpoint's queue name (with its prefix), not the error queue's.</param>
    /// <param name="limit">Most messages to return.</param>
    /// <param name="visible">Which messages the caller may see; null for all.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    public async Task<IReadOnlyList<DeadLetterSummary>> ListAsync(string queue, int limit = 100, Func<DeadLetterSummary, bool>? visible = null, CancellationToken cancellationToken = default)
    {
        var messages = new List<DeadLetterSummary>();
        await ScanAsync(queue, visible, (_, message) =>
        {
            messages.Add(message.Summary);
            return Task.FromResult(messages.Count < limit ? Scan.Continue : Scan.Stop);
        }, cancellationToken);
        return messages;
    }

    /// <summary>The message <paramref name="messageId"/> with its body, or null when it is not there (or not visible).</summary>
    public async Task<DeadLetterMessage?> GetAsync(string queue, string messageId, Func<DeadLetterSummary, bool>? visible = null, CancellationToken cancellationToken = default)
    {
        DeadLetterMessage? found = null;
        await ScanAsync(queue, visible, (_, message) =>
        {
            if (!IsMessage(message, messageId))
            {
                return Task.FromResult(Scan.Continue);
            }

            found = message;
            return Task.FromResult(Scan.Stop);
        }, cancellationToken);
        return found;
    }

    /// <summary>
    /// Moves dead-lettered messages back to <paramref name="queue"/>: the one with
    /// <paramref name="messageId"/>, or all (that <paramref name="visible"/> lets through) when it is null. Returns how many were moved.
    /// </summary>
    /// <param name="queue">The endpoint's queue name (with its prefix).</param>
    /// <param name="messageId">The MessageId to redeliver; null redelivers every message.</param>
    /// <param name="visible">Which messages the caller may move; null for all.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    public async Task<int> RedeliverAsync(string queue, string? messageId = null, Func<DeadLetterSummary, bool>? visible = null, CancellationToken cancellationToken = default)
    {
        var moved = 0;
        await ScanAsync(queue, visible, async (take, message) =>
        {
            if (messageId is not null && !IsMessage(message, messageId))
            {
                return Scan.Continue;
            }

            await take.RedeliverAsync(time.GetUtcNow(), cancellationToken);
            moved++;
            return messageId is null ? Scan.Continue : Scan.Stop;
        }, cancellationToken);
        return moved;
    }

    /// <summary>Deletes the dead letter <paramref name="messageId"/> for good. Returns false when it is not there (or not visible).</summary>
    public async Task<bool> DeleteAsync(string queue, string messageId, Func<DeadLetterSummary, bool>? visible = null, CancellationToken cancellationToken = default)
    {
        var deleted = false;
        await ScanAsync(queue, visible, async (take, message) =>
        {
            if (!IsMessage(message, messageId))
            {
                return Scan.Continue;
            }

            await take.AckAsync(cancellationToken);
            deleted = true;
            return Scan.Stop;
        }, cancellationToken);
        return deleted;
    }

    private enum Scan
    {
        Continue,
        Stop,
    }

    private static bool IsMessage(DeadLetterMessage message, string messageId) =>
        string.Equals(message.Summary.MessageId, messageId, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Gets the error queue's messages one by one (unacknowledged, so a crash gives them back) and hands each visible one
    /// to <paramref name="handle"/>; whatever it neither acknowledged nor redelivered is put back when the scan ends.
    /// </summary>
    private async Task ScanAsync(string queue, Func<DeadLetterSummary, bool>? visible, Func<Taken, DeadLetterMessage, Task<Scan>> handle, CancellationToken cancellationToken)
    {
        await using var connection = await ConnectAsync(cancellationToken);

        // Only the messages there when the scan starts: one redelivered now that fails again comes back to the end of the
        // queue, and must not be taken (and redelivered) again by the same scan.
        var waiting = await WaitingAsync(connection, queue, cancellationToken);
        if (waiting <= 0)
        {
            return;
        }

        await using var channel = await connection.CreateChannelAsync(
            new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), cancellationToken);
        var putBack = new List<ulong>();
        try
        {
            for (var scanned = 0; scanned < Math.Min(waiting, ScanLimit); scanned++)
            {
                var result = await channel.BasicGetAsync(queue + ErrorSuffix, autoAck: false, cancellationToken);
                if (result is null)
                {
                    break;
                }

                var message = ToDeadLetter(result);
                if (visible is not null && !visible(message.Summary))
                {
                    putBack.Add(result.DeliveryTag);
                    continue;
                }

                var taken = new Taken(channel, queue, result);
                var next = await handle(taken, message);
                if (!taken.Settled)
                {
                    putBack.Add(result.DeliveryTag);
                }

                if (next == Scan.Stop)
                {
                    break;
                }
            }
        }
        finally
        {
            foreach (var tag in putBack)
            {
                await channel.BasicNackAsync(tag, multiple: false, requeue: true, CancellationToken.None);
            }
        }
    }

    /// <summary>A message taken from the error queue, to acknowledge (delete) or redeliver.</summary>
    private sealed class Taken(IChannel channel, string queue, BasicGetResult result)
    {
        public bool Settled { get; private set; }

        public async Task AckAsync(CancellationToken cancellationToken)
        {
            await channel.BasicAckAsync(result.DeliveryTag, multiple: false, cancellationToken);
            Settled = true;
        }

        public async Task RedeliverAsync(DateTimeOffset now, CancellationToken cancellationToken)
        {
            var original = result.BasicProperties.Headers ?? new Dictionary<string, object?>();
            var headers = original
                .Where(h => !h.Key.StartsWith("MT-Fault-", StringComparison.OrdinalIgnoreCase) && !string.Equals(h.Key, "MT-Reason", StringComparison.OrdinalIgnoreCase))
                .ToDictionary(h => h.Key, h => h.Value);
            headers[FirstFaultedAtHeader] = Text(original, FirstFaultedAtHeader) ?? Text(original, "MT-Fault-Timestamp") ?? now.ToString("O", CultureInfo.InvariantCulture);
            headers[RedeliveriesHeader] = (Redeliveries(original) + 1).ToString(CultureInfo.InvariantCulture);
            var properties = new BasicProperties(result.BasicProperties) { Headers = headers };

            // Publish confirmed before the ack: a crash in between leaves a duplicate (absorbed by the inbox), never a loss.
            await channel.BasicPublishAsync(string.Empty, queue, mandatory: true, properties, result.Body, cancellationToken);
            await AckAsync(cancellationToken);
        }
    }

    // MassTransit declares the error queue at the first fault; before that there is nothing to list.
    private static async Task<long> WaitingAsync(IConnection connection, string queue, CancellationToken cancellationToken)
    {
        await using var probe = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        try
        {
            return (await probe.QueueDeclarePassiveAsync(queue + ErrorSuffix, cancellationToken)).MessageCount;
        }
        catch (RabbitMQ.Client.Exceptions.OperationInterruptedException ex) when (ex.ShutdownReason?.ReplyCode == 404)
        {
            return 0;
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

    private static string? Text(IDictionary<string, object?> headers, string key) => headers.TryGetValue(key, out var value) ? value switch
    {
        byte[] bytes => Encoding.UTF8.GetString(bytes),
        null => null,
        _ => Convert.ToString(value, CultureInfo.InvariantCulture),
    } : null;

    private static int Redeliveries(IDictionary<string, object?> headers) =>
        int.TryParse(Text(headers, RedeliveriesHeader), NumberStyles.Integer, CultureInfo.InvariantCulture, out var count) ? count : 0;

    private static DeadLetterMessage ToDeadLetter(BasicGetResult result)
    {
        var headers = result.BasicProperties.Headers ?? new Dictionary<string, object?>();
        var body = Encoding.UTF8.GetString(result.Body.Span);
        var faultedAt = Text(headers, "MT-Fault-Timestamp");
        var summary = new DeadLetterSummary(
            result.BasicProperties.MessageId,
            Text(headers, "MT-MessageType") ?? result.BasicProperties.Type ?? MessageTypeOf(body),
            TenantOf(body),
            Text(headers, "MT-Reason"),
            Text(headers, "MT-Fault-ExceptionType"),
            Text(headers, "MT-Fault-Message"),
            Text(headers, FirstFaultedAtHeader) ?? faultedAt,
            faultedAt,
            Redeliveries(headers));
        return new DeadLetterMessage(summary, Text(headers, "MT-Fault-StackTrace"), body);
    }

    private static string? MessageTypeOf(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("messageType", out var types) && types.ValueKind == JsonValueKind.Array
                ? string.Join(", ", types.EnumerateArray().Select(t => t.GetString()))
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// The tenant a message names: <c>tenantId</c> or <c>principal.tenantId</c> of the envelope's <c>message</c>. A body that
    /// is not an envelope, or names no tenant, has none (only a platform operator sees it).
    /// </summary>
    internal static string? TenantOf(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind != JsonValueKind.Object || !TryGet(document.RootElement, "message", out var message) || message.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            if (TryGet(message, "tenantId", out var tenant) && tenant.ValueKind == JsonValueKind.String)
            {
                return tenant.GetString();
            }

            return TryGet(message, "principal", out var principal) && principal.ValueKind == JsonValueKind.Object
                && TryGet(principal, "tenantId", out var nested) && nested.ValueKind == JsonValueKind.String
                ? nested.GetString()
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static bool TryGet(JsonElement element, string name, out JsonElement value)
    {
        foreach (var property in element.EnumerateObject())
        {
            if (string.Equals(property.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                value = property.Value;
                return true;
            }
        }

        value = default;
        return false;
    }
}
