using System.Collections.Concurrent;
using Agents.Messaging.TestHost.Contracts;
using Agents.ServiceDefaults.Messaging;
using MassTransit;

namespace Agents.Messaging.TestHost;

/// <summary>Writes one effect row per DoWork and publishes WorkDone, both in the inbox transaction.</summary>
public sealed class DoWorkConsumer(TestDbContext db, TimeProvider time) : IConsumer<DoWork>
{
    public async Task Consume(ConsumeContext<DoWork> context)
    {
        db.Effects.Add(new Effect { Key = context.Message.WorkId, Kind = "work", At = time.GetUtcNow().UtcDateTime });
        await context.Publish(new WorkDone(context.Message.WorkId));
    }
}

/// <summary>
/// Sends <see cref="Forwarded"/> on to another endpoint as the answer to the incoming request (its request id, response
/// and fault addresses, a header and what is left of its time to live), in the inbox transaction: the receiver's
/// answer then reaches the original requester directly.
/// </summary>
public sealed class ForwardConsumer(TimeProvider time) : IConsumer<Forward>
{
    public const string Header = "Agents-Test-Forwarded";

    public async Task Consume(ConsumeContext<Forward> context)
    {
        var endpoint = await context.GetSendEndpoint(context.Message.To);
        await endpoint.Send(new Forwarded(context.Message.Id), send =>
        {
            send.RequestId = context.RequestId;
            send.ResponseAddress = context.ResponseAddress;
            send.FaultAddress = context.FaultAddress ?? context.ResponseAddress;
            send.Headers.Set(Header, "kept");
            if (context.ExpirationTime is { } expires)
            {
                send.TimeToLive = expires - time.GetUtcNow().UtcDateTime;
            }
        });
    }
}

public sealed class ReminderConsumer(TestDbContext db, TimeProvider time) : IConsumer<Reminder>
{
    public Task Consume(ConsumeContext<Reminder> context)
    {
        db.Effects.Add(new Effect { Key = context.Message.Id, Kind = "reminder", At = time.GetUtcNow().UtcDateTime });
        return Task.CompletedTask;
    }
}

/// <summary>Fails permanently while <see cref="PoisonSwitch.Fail"/> is set; records success otherwise.</summary>
public sealed class PoisonConsumer(TestDbContext db, PoisonSwitch poison, TimeProvider time) : IConsumer<Poison>
{
    public Task Consume(ConsumeContext<Poison> context)
    {
        if (poison.Fail)
        {
            throw new PermanentFailureException(context.Message.Reason);
        }

        db.Effects.Add(new Effect { Key = context.Message.Id, Kind = "poison-healed", At = time.GetUtcNow().UtcDateTime });
        return Task.CompletedTask;
    }
}

/// <summary>
/// Takes <see cref="Tally"/> messages in batches, through the inbox: one effect row per message, all in one transaction,
/// and one <see cref="WorkDone"/> per batch; a message marked to fail fails its whole batch.
/// </summary>
public sealed class TallyBatchConsumer(TestDbContext db, BatchLog log, TimeProvider time) : IConsumer<Batch<Tally>>
{
    public async Task Consume(ConsumeContext<Batch<Tally>> context)
    {
        log.Sizes.Enqueue(context.Message.Length);
        foreach (var message in context.Message)
        {
            if (message.Message.Fail)
            {
                throw new PermanentFailureException($"tally {message.Message.Id} is poison");
            }

            db.Effects.Add(new Effect { Key = message.Message.Id, Kind = "tally", At = time.GetUtcNow().UtcDateTime });
        }

        await context.Publish(new WorkDone(context.Message[0].Message.Id));
    }
}

/// <summary>The sizes of the batches <see cref="TallyBatchConsumer"/> was given.</summary>
public sealed class BatchLog
{
    public ConcurrentQueue<int> Sizes { get; } = new();
}

public sealed class PoisonSwitch
{
    public volatile bool Fail = true;
}

/// <summary>Records commit-to-consume latency for the benchmark.</summary>
public sealed class PingConsumer(LatencyLog log, TimeProvider time) : IConsumer<Ping>
{
    public Task Consume(ConsumeContext<Ping> context)
    {
        log.Record(context.Message.Id, time.GetUtcNow().UtcDateTime - context.Message.CommittedAt);
        return Task.CompletedTask;
    }
}

public sealed class LatencyLog
{
    private readonly ConcurrentDictionary<Guid, TimeSpan> _latencies = new();

    public int Count => _latencies.Count;

    public void Record(Guid id, TimeSpan latency) => _latencies.TryAdd(id, latency);

    public IReadOnlyList<TimeSpan> Snapshot() => [.. _latencies.Values];

    public void Clear() => _latencies.Clear();
}

public sealed class CounterStateMachine : MassTransitStateMachine<CounterState>
{
    public CounterStateMachine()
    {
        InstanceState(x => x.CurrentState);
        Event(() => Incremented, e => e.CorrelateById(m => m.Message.CounterId));

        Initially(When(Incremented).Then(c => c.Saga.Count++).TransitionTo(Active));
        During(Active, When(Incremented).Then(c => c.Saga.Count++));
    }

    public State Active { get; private set; } = null!;

    public Event<Increment> Incremented { get; private set; } = null!;
}

/// <summary>The benchmark's inbox+outbox hop: consumes Relay and publishes Ping from its outbox.</summary>
public sealed class RelayConsumer(TimeProvider time) : IConsumer<Relay>
{
    public Task Consume(ConsumeContext<Relay> context) =>
        context.Publish(new Ping(context.Message.Id, time.GetUtcNow().UtcDateTime));
}
