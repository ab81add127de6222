using System.Text;
using Agents.ServiceDefaults.Configuration;
using Agents.Testing;
using RabbitMQ.Client;

namespace Agents.Messaging.Tests;

/// <summary>A queue of the test's own, bound to an exchange, that collects what reaches it (bodies and message ids).</summary>
internal sealed class Sink : IAsyncDisposable
{
    private readonly IConnection _connection;
    private readonly IChannel _channel;

    private Sink(IConnection connection, IChannel channel, string queue)
    {
        _connection = connection;
        _channel = channel;
        Queue = queue;
    }

    public string Queue { get; }

    /// <summary>A queue named after the test's prefix; bound to <paramref name="exchange"/> (declared as MassTransit does) when given.</summary>
    public static async Task<Sink> BindAsync(TestEnvironment env, string? exchange = null)
    {
        var connection = await Factory().CreateConnectionAsync();
        var channel = await connection.CreateChannelAsync();
        var queue = $"{env.Prefix}-sink-{Guid.NewGuid():N}"[..(env.Prefix.Length + 14)];
        await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false);
        if (exchange is not null)
        {
            await channel.ExchangeDeclareAsync(exchange, ExchangeType.Fanout, durable: true, autoDelete: false);
            await channel.QueueBindAsync(queue, exchange, string.Empty);
        }

        return new Sink(connection, channel, queue);
    }

    /// <summary>
    /// Takes every message that is in the queue now; returns (message id, body) pairs. A marker is put at the queue's end
    /// first (through the same channel, so after everything the broker has already taken in: the callers wait until every
    /// message was sent and confirmed), and the queue is drained once the marker comes back.
    /// </summary>
    public async Task<IReadOnlyList<(string MessageId, string Body)>> DrainMessagesAsync()
    {
        var marker = $"sink-marker-{Guid.NewGuid():N}";
        await _channel.BasicPublishAsync(string.Empty, Queue, mandatory: true, new BasicProperties { MessageId = marker }, ReadOnlyMemory<byte>.Empty);
        var seen = new List<(string, string)>();
        await Poll.UntilAsync(
            async () =>
            {
                while (await _channel.BasicGetAsync(Queue, autoAck: true) is { } result)
                {
                    if (result.BasicProperties.MessageId == marker)
                    {
                        return true;
                    }

                    seen.Add((result.BasicProperties.MessageId ?? string.Empty, Encoding.UTF8.GetString(result.Body.Span)));
                }

                return false;
            },
            what: $"the marker to come back through {Queue}",
            every: TimeSpan.FromMilliseconds(50));
        return seen;
    }

    /// <summary>The bodies of <see cref="DrainMessagesAsync"/>.</summary>
    public async Task<IReadOnlyList<string>> DrainAsync() => [.. (await DrainMessagesAsync()).Select(m => m.Body)];

    /// <summary>Messages waiting in <paramref name="queue"/>, or null when it does not exist.</summary>
    public static async Task<uint?> CountAsync(string queue)
    {
        await using var connection = await Factory().CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        try
        {
            return (await channel.QueueDeclarePassiveAsync(queue)).MessageCount;
        }
        catch (RabbitMQ.Client.Exceptions.OperationInterruptedException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _channel.QueueDeleteAsync(Queue);
        await _channel.DisposeAsync();
        await _connection.DisposeAsync();
    }

    private static ConnectionFactory Factory()
    {
        var broker = ConnectionStrings.ParseRabbitMq(TestInfrastructure.RabbitMq);
        return new ConnectionFactory { HostName = broker.Host, Port = broker.Port, VirtualHost = broker.VirtualHost, UserName = broker.Username, Password = broker.Password };
    }
}
