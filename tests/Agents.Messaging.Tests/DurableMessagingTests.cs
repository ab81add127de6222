using Agents.Contracts.Operations;
using Agents.Messaging.Data;
using Agents.Messaging.DeadLetters;
using Agents.Messaging.TestHost;
using Agents.Messaging.TestHost.Contracts;
using Agents.ServiceDefaults.Messaging;
using Agents.Testing;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Agents.Messaging.Tests;

/// <summary>
/// Durable messaging against the real RabbitMQ and PostgreSQL. One class, so the tests run one
/// after another: message-type exchanges are shared by every queue prefix, and sequential tests
/// keep one test's publishes away from another test's consumers.
/// </summary>
[Collection(MessagingCollection.Name)]
[Trait("Category", "Infrastructure")]
public sealed class DurableMessagingTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Host_killed_between_commit_and_publish_delivers_after_restart_and_effect_happens_once()
    {
        await using var env = await TestEnvironment.CreateAsync("crash");
        var workId = Guid.NewGuid();

        // The child commits the request's row and the outbox row, then is killed before any delivery.
        using (var child = await env.StartChildAsync("commit-work", workId.ToString()))
        {
            child.Kill(entireProcessTree: true);
            await child.WaitForExitAsync();
        }

        await using (var db = env.NewDbContext())
        {
            Assert.Equal(1, await db.Effects.CountAsync(e => e.Key == workId && e.Kind == "request"));
            Assert.Equal(1, await db.Set<OutboxMessage>().CountAsync(m => m.Delivered == null));
            Assert.Equal(0, await db.Effects.CountAsync(e => e.Key == workId && e.Kind == "work"));
        }

        // The restarted host did not commit the row, so only its sweep can send it, once the row is older than the grace period.
        var grace = TimeSpan.FromSeconds(3);
        using var counters = new SentCounter();
        using var host = env.CreateHost(s => s.SweepGracePeriod = grace);
        await host.StartAsync();
        try
        {
            await Poll.UntilAsync(async () =>
            {
                await using var db = env.NewDbContext();
                return await db.Set<OutboxMessage>().CountAsync(m => m.Delivered == null) == 0
                    && await db.Effects.CountAsync(e => e.Key == workId && e.Kind == "work") == 1;
            }, Deadline, "the committed message to be delivered and consumed after restart");

            // The consumer's own published WorkDone left through the outbox as well.
            await Poll.UntilAsync(async () =>
            {
                await using var db = env.NewDbContext();
                return await db.Set<OutboxMessage>().CountAsync(m => m.InboxMessageId != null && m.Delivered != null) == 1;
            }, Deadline, "the consumer's WorkDone to be sent");

            await using var check = env.NewDbContext();
            Assert.Equal(1, await check.Effects.CountAsync(e => e.Key == workId && e.Kind == "work"));
            var request = await check.Effects.SingleAsync(e => e.Key == workId && e.Kind == "request");
            var work = await check.Effects.SingleAsync(e => e.Key == workId && e.Kind == "work");
            Assert.True(work.At - request.At >= grace - TimeSpan.FromMilliseconds(100),
                $"the row was sent {(work.At - request.At).TotalMilliseconds} ms after its commit, before the {grace.TotalSeconds} s grace period");

            // The child's row by the sweep; the consumer's WorkDone, committed here, from memory.
            Assert.Equal(1, counters.Sweep);
            Assert.Equal(1, counters.Memory);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task Same_message_twice_and_concurrent_duplicates_have_one_effect()
    {
        await using var env = await TestEnvironment.CreateAsync("dup");
        await using var workDone = await Sink.BindAsync(env, env.Prefix + ".Agents.Messaging.TestHost.Contracts:WorkDone");
        using var host = env.CreateHost();
        await host.StartAsync();
        try
        {
            var bus = host.Services.GetRequiredService<IBusControl>();
            await bus.WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(20));

            // Twice, one after the other.
            var first = Guid.NewGuid();
            var firstMessageId = Guid.NewGuid();
            await bus.Publish(new DoWork(first), c => c.MessageId = firstMessageId);
            await EffectCountReachesAsync(env, first, 1);
            await bus.Publish(new DoWork(first), c => c.MessageId = firstMessageId);

            // Twenty copies at once.
            var second = Guid.NewGuid();
            var secondMessageId = Guid.NewGuid();
            await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => bus.Publish(new DoWork(second), c => c.MessageId = secondMessageId)));

            await Poll.UntilAsync(async () =>
            {
                await using var db = env.NewDbContext();
                var first = await db.Set<InboxState>().SingleOrDefaultAsync(i => i.MessageId == firstMessageId);
                var second = await db.Set<InboxState>().SingleOrDefaultAsync(i => i.MessageId == secondMessageId);
                return first?.ReceiveCount == 2 && second?.ReceiveCount == 20;
            }, Deadline, "every copy to reach the inbox");

            await using var check = env.NewDbContext();
            Assert.Equal(1, await check.Effects.CountAsync(e => e.Key == first));
            Assert.Equal(1, await check.Effects.CountAsync(e => e.Key == second));
            Assert.Equal(2, await check.Set<OutboxMessage>().CountAsync(m => m.InboxMessageId == firstMessageId || m.InboxMessageId == secondMessageId));

            // One WorkDone each reached the broker.
            await env.AllSentAsync(Deadline);
            var done = await workDone.DrainAsync();
            Assert.Equal(1, done.Count(b => b.Contains(first.ToString(), StringComparison.Ordinal)));
            Assert.Equal(1, done.Count(b => b.Contains(second.ToString(), StringComparison.Ordinal)));
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task An_inbox_row_is_created_consumed_and_a_row_left_unconsumed_is_consumed_once_and_marked()
    {
        await using var env = await TestEnvironment.CreateAsync("mark");
        using var host = env.CreateHost();
        await host.StartAsync();
        try
        {
            var bus = host.Services.GetRequiredService<IBusControl>();
            await bus.WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(20));

            // A first receipt: the row is written once, by its INSERT, already consumed (marked at receipt, not later by an UPDATE).
            var first = Guid.NewGuid();
            var firstMessageId = Guid.NewGuid();
            await bus.Publish(new DoWork(first), c => c.MessageId = firstMessageId);
            await EffectCountReachesAsync(env, first, 1);
            InboxState row;
            await using (var db = env.NewDbContext())
            {
                row = await db.Set<InboxState>().SingleAsync(i => i.MessageId == firstMessageId);
                Assert.Equal(row.Received, row.Consumed);
                Assert.Equal(1, row.ReceiveCount);
            }

            // A row committed unconsumed (as rows written before they were created consumed can be): the consumer runs once and marks it.
            var second = Guid.NewGuid();
            var secondMessageId = Guid.NewGuid();
            await using (var db = env.NewDbContext())
            {
                await db.Database.ExecuteSqlAsync(
                    $"INSERT INTO messaging_inbox_state (message_id, consumer_id, received, receive_count) VALUES ({secondMessageId}, {row.ConsumerId}, now(), 1)");
            }

            await bus.Publish(new DoWork(second), c => c.MessageId = secondMessageId);
            await EffectCountReachesAsync(env, second, 1);
            await Poll.UntilAsync(async () =>
            {
                await using var db = env.NewDbContext();
                var marked = await db.Set<InboxState>().SingleAsync(i => i.MessageId == secondMessageId);
                return marked is { Consumed: not null, ReceiveCount: 2 };
            }, Deadline, "the unconsumed row to be marked consumed");

            // Sent again, it is a duplicate.
            await bus.Publish(new DoWork(second), c => c.MessageId = secondMessageId);
            await Poll.UntilAsync(async () =>
            {
                await using var db = env.NewDbContext();
                return (await db.Set<InboxState>().SingleAsync(i => i.MessageId == secondMessageId)).ReceiveCount == 3;
            }, Deadline, "the duplicate to reach the inbox");
            await using var check = env.NewDbContext();
            Assert.Equal(1, await check.Effects.CountAsync(e => e.Key == second));
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task Sixty_concurrent_events_for_one_saga_instance_are_all_counted()
    {
        await using var env = await TestEnvironment.CreateAsync("saga");
        using var host = env.CreateHost(s =>
        {
            s.Consumers = false;
            s.Saga = true;
        });
        await host.StartAsync();
        try
        {
            var bus = host.Services.GetRequiredService<IBusControl>();
            await bus.WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(20));
            var counterId = Guid.NewGuid();

            await Task.WhenAll(Enumerable.Range(0, 60).Select(_ => bus.Publish(new Increment(counterId))));

            int? count = null;
            await Poll.UntilAsync(async () =>
            {
                await using var db = env.NewDbContext();
                count = (await db.Counters.SingleOrDefaultAsync(c => c.CorrelationId == counterId))?.Count;
                return count == 60;
            }, () => $"the saga to count 60 events (it counted {count})", Deadline);

            await using var check = env.NewDbContext();
            Assert.Equal(60, await check.Set<InboxState>().CountAsync(i => i.Consumed != null));
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task Two_hosts_delivering_from_the_same_outbox_send_each_message_once()
    {
        await using var env = await TestEnvironment.CreateAsync("pair");
        using var hostA = env.CreateHost(s =>
        {
            s.Consumers = false;
            s.DeliveryBatchSize = 7;
            s.SweepInterval = TimeSpan.FromMilliseconds(20);
        });
        using var hostB = env.CreateHost(s =>
        {
            s.Consumers = false;
            s.DeliveryBatchSize = 7;
            s.SweepInterval = TimeSpan.FromMilliseconds(20);
        });
        await using var sink = await Sink.BindAsync(env);

        await hostA.StartAsync();
        await hostB.StartAsync();
        try
        {
            const int total = 300;
            // Written in 30 transactions of 10 while both hosts deliver.
            await env.CommitToSinkAsync(hostA, sink.Queue, transactions: 30, perTransaction: 10);
            await env.AllSentAsync(Deadline);

            var seen = (await sink.DrainMessagesAsync()).GroupBy(m => m.MessageId).ToList();
            Assert.Equal(total, seen.Count);
            Assert.All(seen, group => Assert.Single(group));
        }
        finally
        {
            await hostA.StopAsync();
            await hostB.StopAsync();
        }
    }

    [Fact]
    public async Task Scheduled_message_survives_restart_arrives_when_due_and_unscheduled_never_arrives()
    {
        await using var env = await TestEnvironment.CreateAsync("sched");
        var kept = Guid.NewGuid();
        var cancelled = Guid.NewGuid();
        var due = DateTimeOffset.UtcNow.AddSeconds(4);

        using (var child = await env.StartChildAsync("schedule", kept.ToString(), cancelled.ToString(), due.ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture)))
        {
            child.Kill(entireProcessTree: true);
            await child.WaitForExitAsync();
        }

        await using (var db = env.NewDbContext())
        {
            var rows = await db.Set<OutboxMessage>().ToListAsync();
            Assert.True(rows.Count(m => m.Delivered == null && m.DueTime != null) == 1, string.Join("\n", rows.Select(r => $"{r.SequenceNumber} due={r.DueTime:O} token={r.ScheduleTokenId} delivered={r.Delivered} headers={r.HeadersJson}")));
        }

        // One message at a time: a reminder published last is consumed after those on the broker before it.
        using var host = env.CreateHost(s => s.PrefetchCount = 1);
        await host.StartAsync();
        try
        {
            await Poll.UntilAsync(async () =>
            {
                await using var db = env.NewDbContext();
                return await db.Effects.AnyAsync(e => e.Key == kept);
            }, Deadline, "the scheduled message to arrive");

            await using var check = env.NewDbContext();
            var arrived = await check.Effects.SingleAsync(e => e.Key == kept);
            Assert.True(arrived.At >= due.UtcDateTime, $"arrived at {arrived.At:O}, before its due time {due.UtcDateTime:O}");

            // Both were due at the same moment: had the cancelled one survived, it would have left in the same batch. Once no
            // row is left to send, whatever was sent is on the broker, and a reminder published after that is consumed last.
            await env.AllSentAsync(Deadline);
            var marker = Guid.NewGuid();
            await host.Services.GetRequiredService<IBus>().Publish(new Reminder(marker));
            await EffectCountReachesAsync(env, marker, 1);
            Assert.False(await check.Effects.AnyAsync(e => e.Key == cancelled));
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task A_message_sent_on_by_a_consumer_keeps_the_request_id_addresses_headers_and_time_to_live_it_was_given()
    {
        await using var env = await TestEnvironment.CreateAsync("fwd");
        using var host = env.CreateHost();
        await host.StartAsync();
        try
        {
            var bus = host.Services.GetRequiredService<IBusControl>();
            await bus.WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(20));
            var seen = new System.Collections.Concurrent.ConcurrentQueue<(Guid? RequestId, Uri? ResponseAddress, Uri? FaultAddress, string? Header, DateTime? Expires)>();
            var answerer = bus.ConnectReceiveEndpoint(env.Prefix + "-answerer", e => e.Handler<Forwarded>(async context =>
            {
                seen.Enqueue((context.RequestId, context.ResponseAddress, context.FaultAddress, context.Headers.Get<string>(ForwardConsumer.Header), context.ExpirationTime));
                await context.RespondAsync(new ForwardAnswered(context.Message.Id));
            }));
            var ready = await answerer.Ready.WaitAsync(TimeSpan.FromSeconds(20));
            var options = host.Services.GetRequiredService<IOptions<BusOptions>>().Value;
            var queue = new Uri("queue:" + BusConventions.EndpointNameFormatter(options).Consumer<ForwardConsumer>());
            var id = Guid.NewGuid();

            // The consumer does not answer the request: the endpoint it sends to does, straight to the requester.
            var client = bus.CreateRequestClient<Forward>(queue, RequestTimeout.After(s: 20));
            var answer = await client.GetResponse<ForwardAnswered>(new Forward(id, ready.InputAddress), r => r.UseExecute(c => c.TimeToLive = TimeSpan.FromMinutes(2)));

            var after = DateTime.UtcNow;
            Assert.Equal(id, answer.Message.Id);
            var received = Assert.Single(seen);
            Assert.Equal(answer.RequestId, received.RequestId);
            Assert.NotNull(received.ResponseAddress);
            Assert.Equal(received.ResponseAddress, received.FaultAddress);
            Assert.Equal("kept", received.Header);
            Assert.NotNull(received.Expires);
            // What was left of the request's two minutes: well over one still, and never more than it had.
            Assert.InRange(received.Expires.Value, after + TimeSpan.FromMinutes(1), after + TimeSpan.FromMinutes(2));

            // It left through the outbox of the consumer's transaction, with the request id stored in the row.
            await using var db = env.NewDbContext();
            var row = await db.Set<OutboxMessage>().AsNoTracking().SingleAsync(m => m.MessageType.Contains("Forwarded"));
            Assert.NotNull(row.InboxMessageId);
            Assert.Equal(answer.RequestId, row.RequestId);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task Poison_message_lands_in_error_queue_with_reason_and_redelivery_puts_it_back()
    {
        await using var env = await TestEnvironment.CreateAsync("poison");
        using var host = env.CreateHost();
        await host.StartAsync();
        try
        {
            var bus = host.Services.GetRequiredService<IBusControl>();
            await bus.WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(20));
            var deadLetters = host.Services.GetRequiredService<DeadLetterQueue>();
            var options = host.Services.GetRequiredService<IOptions<BusOptions>>().Value;
            var queue = BusConventions.EndpointNameFormatter(options).Consumer<PoisonConsumer>();
            var id = Guid.NewGuid();
            var messageId = Guid.NewGuid();

            await bus.Publish(new Poison(id, "amount -5 is negative"), c => c.MessageId = messageId);

            IReadOnlyList<DeadLetterSummary> dead = [];
            await Poll.UntilAsync(async () =>
            {
                dead = await deadLetters.ListAsync(queue);
                return dead.Count == 1;
            }, Deadline, $"the message in {queue}_error");
            Assert.Equal(messageId.ToString(), dead[0].MessageId);
            Assert.Contains("amount -5 is negative", dead[0].ExceptionMessage, StringComparison.Ordinal);
            Assert.Contains(nameof(PermanentFailureException), dead[0].ExceptionType, StringComparison.Ordinal);
            await using (var db = env.NewDbContext())
            {
                // Every failed attempt rolled its inbox row back with it: nothing marks the message consumed.
                Assert.False(await db.Set<InboxState>().AnyAsync(i => i.MessageId == messageId));
            }

            // Listing leaves it in place; redelivery moves it back to the queue, where it now succeeds.
            Assert.Single(await deadLetters.ListAsync(queue));
            host.Services.GetRequiredService<PoisonSwitch>().Fail = false;
            Assert.Equal(1, await deadLetters.RedeliverAsync(queue, messageId.ToString()));

            await Poll.UntilAsync(async () =>
            {
                await using var db = env.NewDbContext();
                return await db.Effects.AnyAsync(e => e.Key == id && e.Kind == "poison-healed");
            }, Deadline, "the redelivered message to be consumed");
            Assert.Empty(await deadLetters.ListAsync(queue));
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task Batch_consumer_commits_each_batch_once_skips_messages_seen_before_and_isolates_a_poison_message()
    {
        await using var env = await TestEnvironment.CreateAsync("batch");
        using var host = env.CreateHost(s => s.Batches = true);
        await host.StartAsync();
        try
        {
            var bus = host.Services.GetRequiredService<IBusControl>();
            await bus.WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(20));
            var log = host.Services.GetRequiredService<BatchLog>();

            // 60 messages and a redelivery of one of them (same message id): 60 effects, each once, in batches.
            var ids = Enumerable.Range(0, 60).Select(_ => Guid.NewGuid()).ToList();
            var messageIds = ids.ToDictionary(id => id, _ => Guid.NewGuid());
            await Task.WhenAll(ids.Select(id => bus.Publish(new Tally(id), c => c.MessageId = messageIds[id])));
            await bus.Publish(new Tally(ids[7]), c => c.MessageId = messageIds[ids[7]]);
            await Poll.UntilAsync(async () =>
            {
                await using var db = env.NewDbContext();
                return await db.Effects.CountAsync(e => e.Kind == "tally") >= 60;
            }, Deadline, "the batch consumer to take every message");

            // The consumer takes one batch at a time, in the queue's order: once a tally published last is in, the redelivered
            // one before it has been handled too.
            await TallyAfterAllAsync(env, bus);
            await using (var db = env.NewDbContext())
            {
                var counts = await db.Effects.Where(e => e.Kind == "tally" && ids.Contains(e.Key)).GroupBy(e => e.Key).Select(g => g.Count()).ToListAsync();
                Assert.Equal(60, counts.Count);
                Assert.All(counts, c => Assert.Equal(1, c));

                // One inbox row per message, all consumed; fewer transactions than messages (one WorkDone per batch).
                var inbox = await db.Set<InboxState>().Where(i => messageIds.Values.Contains(i.MessageId)).ToListAsync();
                Assert.Equal(60, inbox.Count);
                Assert.All(inbox, i => Assert.NotNull(i.Consumed));
                Assert.True(await db.Set<OutboxMessage>().CountAsync() < 60, "a batch should commit once, with one outgoing message");
            }

            Assert.True(log.Sizes.Max() > 1, $"messages were not batched: {string.Join(", ", log.Sizes)}");

            // A poison message fails its batch: the others of the batch still commit, each once; the poison one goes to _error.
            var deadLetters = host.Services.GetRequiredService<DeadLetterQueue>();
            var queue = BusConventions.EndpointNameFormatter(host.Services.GetRequiredService<IOptions<BusOptions>>().Value).Consumer<TallyBatchConsumer>();
            var poison = Guid.NewGuid();
            var poisonMessageId = Guid.NewGuid();
            var good = Enumerable.Range(0, 9).Select(_ => Guid.NewGuid()).ToList();
            await Task.WhenAll(good.Take(4).Select(id => bus.Publish(new Tally(id))));
            await bus.Publish(new Tally(poison, Fail: true), c => c.MessageId = poisonMessageId);
            await Task.WhenAll(good.Skip(4).Select(id => bus.Publish(new Tally(id))));

            IReadOnlyList<DeadLetterSummary> dead = [];
            await Poll.UntilAsync(async () =>
            {
                dead = await deadLetters.ListAsync(queue);
                return dead.Any(d => d.MessageId == poisonMessageId.ToString());

                // Its way there is long: the batch fails, each message runs alone, then the retry policy runs it again.
            }, TimeSpan.FromSeconds(90), $"the poison message in {queue}_error");
            Assert.Contains($"tally {poison} is poison", dead.Single(d => d.MessageId == poisonMessageId.ToString()).ExceptionMessage, StringComparison.Ordinal);
            await Poll.UntilAsync(async () =>
            {
                await using var db = env.NewDbContext();
                return await db.Effects.CountAsync(e => good.Contains(e.Key)) == good.Count;
            }, Deadline, "the messages batched with the poison one to be committed");

            // Messages of the failed batch that went to _error with it were consumed: redelivered, they change nothing.
            await Task.WhenAll(dead.Where(d => d.MessageId != poisonMessageId.ToString()).Select(d => deadLetters.RedeliverAsync(queue, d.MessageId)));
            await TallyAfterAllAsync(env, bus);
            await using (var db = env.NewDbContext())
            {
                Assert.Equal(good.Count, await db.Effects.CountAsync(e => good.Contains(e.Key)));
                Assert.Equal(0, await db.Effects.CountAsync(e => e.Key == poison));
            }
        }
        finally
        {
            await host.StopAsync();
        }
    }

    /// <summary>
    /// Publishes one more tally and waits for its effect: the batch consumer takes one batch at a time, in the queue's
    /// order, so every tally on the broker before it has been handled by then.
    /// </summary>
    private static async Task TallyAfterAllAsync(TestEnvironment env, IBus bus)
    {
        var last = Guid.NewGuid();
        await bus.Publish(new Tally(last));
        await EffectCountReachesAsync(env, last, 1);
    }

    private static Task EffectCountReachesAsync(TestEnvironment env, Guid key, int count) =>
        Poll.UntilAsync(
            async () =>
            {
                await using var db = env.NewDbContext();
                return await db.Effects.CountAsync(e => e.Key == key) >= count;
            },
            Deadline,
            $"{count} effect(s) of {key}");
}
