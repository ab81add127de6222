using Agents.Messaging.Data;
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
/// Outbox delivery paths (from memory after a local commit, claimed after an explicit transaction, the sweep)
/// and the inbox's handling of a redelivery, against the real RabbitMQ and PostgreSQL.
/// </summary>
[Collection(MessagingCollection.Name)]
[Trait("Category", "Infrastructure")]
public sealed class DeliveryTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Rows_committed_in_this_process_are_sent_from_memory_without_the_sweep_and_settled_in_batches(bool removeSentRows)
    {
        await using var env = await TestEnvironment.CreateAsync("memory");
        await using var sink = await Sink.BindAsync(env);
        using var counters = new SentCounter();

        // The sweep looks once at start and then not for an hour: only the memory path can send these rows.
        using var host = env.CreateHost(s =>
        {
            s.Consumers = false;
            s.SweepInterval = TimeSpan.FromHours(1);
            s.SweepGracePeriod = TimeSpan.FromHours(1);
            s.RemoveSentRows = removeSentRows;
        });
        await host.StartAsync();
        try
        {
            var ids = await env.CommitToSinkAsync(host, sink.Queue, transactions: 20, perTransaction: 10);

            await env.AllSentAsync(Deadline);
            var received = await sink.DrainMessagesAsync();
            Assert.Equal(ids.Order(), received.Select(m => m.MessageId).Order());
            Assert.Equal(200, counters.Memory);
            Assert.Equal(0, counters.Sweep);
            Assert.Equal(200, counters.SettledRows);
            Assert.True(counters.SettleStatements < 200, $"{counters.SettleStatements} statements settled 200 rows: sent rows were not settled in batches");
            await using var db = env.NewDbContext();
            Assert.Equal(removeSentRows ? 0 : 200, await db.Set<OutboxMessage>().CountAsync(m => m.Delivered != null));
            Assert.Equal(removeSentRows ? 0 : 200, await db.Set<OutboxMessage>().CountAsync());
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task Rows_saved_in_an_explicit_transaction_are_sent_after_its_commit_and_never_after_a_rollback()
    {
        await using var env = await TestEnvironment.CreateAsync("explicit");
        using var counters = new SentCounter();
        using var host = env.CreateHost(s =>
        {
            s.SweepInterval = TimeSpan.FromHours(1);
            s.SweepGracePeriod = TimeSpan.FromHours(1);
        });
        await host.StartAsync();
        try
        {
            var bus = host.Services.GetRequiredService<IBusControl>();
            await bus.WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(20));
            var rolledBack = Guid.NewGuid();
            var committed = Guid.NewGuid();
            foreach (var (id, commit) in new[] { (rolledBack, false), (committed, true) })
            {
                await using var scope = host.Services.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<TestDbContext>();
                await using var transaction = await db.Database.BeginTransactionAsync();
                db.Effects.Add(new Effect { Key = id, Kind = "request", At = DateTime.UtcNow });
                await scope.ServiceProvider.GetRequiredService<IPublishEndpoint>().Publish(new DoWork(id));
                await db.SaveChangesAsync();
                await (commit ? transaction.CommitAsync() : transaction.RollbackAsync());
            }

            await Poll.UntilAsync(async () =>
            {
                await using var db = env.NewDbContext();
                return await db.Effects.AnyAsync(e => e.Key == committed && e.Kind == "work");
            }, Deadline, "the message saved in the committed transaction to be delivered");
            await env.AllSentAsync(Deadline);

            // The rolled-back scope ended first; its claim found nothing, and nothing is left for a sweep to find.
            await using var check = env.NewDbContext();
            Assert.False(await check.Effects.AnyAsync(e => e.Key == rolledBack));
            Assert.Equal(1, counters.Claim);
            Assert.Equal(1, counters.Memory);
            Assert.Equal(0, counters.Sweep);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task Two_processes_sweeping_rows_left_behind_send_every_row_exactly_once()
    {
        await using var env = await TestEnvironment.CreateAsync("sweep2");
        await using var sink = await Sink.BindAsync(env);

        // A writer that never delivers stands for a process that died after committing.
        using var writer = env.CreateHost(s =>
        {
            s.Consumers = false;
            s.DeliveryEnabled = false;
        });
        await writer.StartAsync();
        IReadOnlyList<string> ids;
        try
        {
            ids = await env.CommitToSinkAsync(writer, sink.Queue, transactions: 30, perTransaction: 10);
        }
        finally
        {
            await writer.StopAsync();
        }

        await using (var db = env.NewDbContext())
        {
            Assert.Equal(300, await db.Set<OutboxMessage>().CountAsync());
        }

        using var counters = new SentCounter();
        var sweepers = Enumerable.Range(0, 2).Select(_ => env.CreateHost(s =>
        {
            s.Consumers = false;
            s.DeliveryBatchSize = 7;
            s.SweepInterval = TimeSpan.FromMilliseconds(20);
            s.SweepGracePeriod = TimeSpan.FromMilliseconds(200);
            s.SettleInterval = TimeSpan.FromMilliseconds(50);
            s.RemoveSentRows = true;
        })).ToList();
        await Task.WhenAll(sweepers.Select(h => h.StartAsync()));
        try
        {
            await env.AllSentAsync(Deadline);
            var received = await sink.DrainMessagesAsync();
            Assert.Equal(ids.Order(), received.Select(m => m.MessageId).Order());
            Assert.Equal(300, counters.Sweep);
            await using var db = env.NewDbContext();
            Assert.Equal(0, await db.Set<OutboxMessage>().CountAsync());
        }
        finally
        {
            await Task.WhenAll(sweepers.Select(h => h.StopAsync()));
            sweepers.ForEach(h => h.Dispose());
        }
    }

    [Fact]
    public async Task Redelivery_after_a_crash_between_handling_and_acknowledging_is_acknowledged_and_not_moved_to_skipped()
    {
        await using var env = await TestEnvironment.CreateAsync("ack");
        var workId = Guid.NewGuid();
        var messageId = Guid.NewGuid();

        // The child consumes DoWork through the inbox, commits, and is killed before acknowledging it.
        using (var child = await env.StartChildAsync("consume-hold", workId.ToString(), messageId.ToString()))
        {
            child.Kill(entireProcessTree: true);
            await child.WaitForExitAsync();
        }

        await using (var db = env.NewDbContext())
        {
            Assert.Equal(1, await db.Effects.CountAsync(e => e.Key == workId && e.Kind == "work"));
            var inbox = await db.Set<InboxState>().SingleAsync(i => i.MessageId == messageId);
            Assert.NotNull(inbox.Consumed);
            Assert.Equal(1, inbox.ReceiveCount);
        }

        using var counters = new SentCounter();
        using var host = env.CreateHost();
        var queue = BusConventions.EndpointNameFormatter(host.Services.GetRequiredService<IOptions<BusOptions>>().Value).Consumer<DoWorkConsumer>();
        await host.StartAsync();
        try
        {
            // The broker hands the unacknowledged message out again; the inbox recognises it.
            await Poll.UntilAsync(async () =>
            {
                await using var db = env.NewDbContext();
                return (await db.Set<InboxState>().SingleAsync(i => i.MessageId == messageId)).ReceiveCount == 2;
            }, Deadline, "the message to be redelivered");
        }
        finally
        {
            // Stopping waits for the message in hand to be settled (acknowledged, or moved to _skipped).
            await host.StopAsync();
        }

        await using var check = env.NewDbContext();
        Assert.Equal(1, await check.Effects.CountAsync(e => e.Key == workId && e.Kind == "work"));
        Assert.Equal(1, counters.Duplicates);
        Assert.Equal(0u, await Sink.CountAsync(queue));
        Assert.True(await Sink.CountAsync(queue + "_skipped") is null or 0, $"the duplicate was moved to {queue}_skipped");
    }
}
