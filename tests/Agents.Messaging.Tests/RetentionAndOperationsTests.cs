using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Agents.Contracts;
using Agents.Contracts.Operations;
using Agents.Messaging.Data;
using Agents.Messaging.Retention;
using Agents.Messaging.TestHost;
using Agents.Messaging.TestHost.Contracts;
using Agents.ServiceDefaults.Messaging;
using Agents.Testing;
using MassTransit;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Agents.Messaging.Tests;

/// <summary>Retention, the dead-letter HTTP API and state-machine timeouts, against the real RabbitMQ and PostgreSQL.</summary>
[Collection(MessagingCollection.Name)]
[Trait("Category", "Infrastructure")]
public sealed class RetentionAndOperationsTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Retention_deletes_inbox_and_delivered_outbox_rows_older_than_the_window_and_keeps_pending_and_newer_rows()
    {
        await using var env = await TestEnvironment.CreateAsync("retain");
        using var host = env.CreateHost();
        await host.StartAsync();
        try
        {
            var bus = host.Services.GetRequiredService<IBusControl>();
            await bus.WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(20));

            // Old generation: a request's DoWork through the bus outbox (consumer inbox row + its WorkDone),
            // and a reminder scheduled a day ahead, which stays pending.
            var old = Guid.NewGuid();
            var reminder = Guid.NewGuid();
            await using (var scope = host.Services.CreateAsyncScope())
            {
                await scope.ServiceProvider.GetRequiredService<IPublishEndpoint>().Publish(new DoWork(old));
                await scope.ServiceProvider.GetRequiredService<IMessageScheduler>().SchedulePublish(DateTime.UtcNow.AddDays(1), new Reminder(reminder));
                await scope.ServiceProvider.GetRequiredService<TestDbContext>().SaveChangesAsync();
            }

            await SettledAsync(env, consumed: 1, delivered: 2, "the old generation to be consumed and delivered");
            await using (var db = env.NewDbContext())
            {
                Assert.Equal(1, await db.Set<OutboxMessage>().CountAsync(m => m.Delivered == null && m.DueTime != null));
            }

            // Every old row is stamped before this instant, every new one after it.
            var cutoff = DateTime.UtcNow;
            await Task.Delay(50);

            var fresh = Guid.NewGuid();
            await using (var scope = host.Services.CreateAsyncScope())
            {
                await scope.ServiceProvider.GetRequiredService<IPublishEndpoint>().Publish(new DoWork(fresh));
                await scope.ServiceProvider.GetRequiredService<TestDbContext>().SaveChangesAsync();
            }

            await SettledAsync(env, consumed: 2, delivered: 4, "the new generation to be consumed and delivered");

            // "Now" is the cutoff plus the window; a batch size of 1 makes the cleanup loop over its batches.
            var window = TimeSpan.FromDays(7);
            var time = new FakeTimeProvider(new DateTimeOffset(cutoff, TimeSpan.Zero) + window);
            var retention = new MessagingRetentionService<TestDbContext>(
                host.Services.GetRequiredService<IServiceScopeFactory>(),
                time,
                Options.Create(new DurableMessagingOptions { RetentionWindow = window, RetentionBatchSize = 1 }),
                NullLogger<MessagingRetentionService<TestDbContext>>.Instance);

            var (inbox, outbox) = await retention.CleanupOnceAsync(CancellationToken.None);
            Assert.Equal(1, inbox);
            Assert.Equal(2, outbox);

            await using (var db = env.NewDbContext())
            {
                var inboxRows = await db.Set<InboxState>().ToListAsync();
                var inboxRow = Assert.Single(inboxRows);
                Assert.True(inboxRow.Received > cutoff, $"the kept inbox row was received at {inboxRow.Received:O}, before the cutoff {cutoff:O}");

                var outboxRows = await db.Set<OutboxMessage>().ToListAsync();
                Assert.Equal(3, outboxRows.Count);
                Assert.All(outboxRows.Where(m => m.Delivered != null), m => Assert.True(m.Delivered > cutoff));
                var pending = Assert.Single(outboxRows, m => m.Delivered == null);
                Assert.True(pending.Created < cutoff, "the pending row should be older than the window, to show that age alone does not remove it");
                Assert.Contains(reminder.ToString(), pending.Body, StringComparison.Ordinal);
            }

            // A second pass a year later still keeps the pending row; everything delivered is gone.
            time.Advance(TimeSpan.FromDays(365));
            Assert.Equal((1, 2), await retention.CleanupOnceAsync(CancellationToken.None));
            await using (var db = env.NewDbContext())
            {
                Assert.Equal(0, await db.Set<InboxState>().CountAsync());
                Assert.Equal(1, await db.Set<OutboxMessage>().CountAsync());
                Assert.Equal(1, await db.Set<OutboxMessage>().CountAsync(m => m.Delivered == null));
            }
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task Dead_letter_api_lists_shows_redelivers_and_deletes_a_poison_message_for_the_platform_operator()
    {
        await using var env = await TestEnvironment.CreateAsync("dlapi");
        await using var app = Hosts.DeadLetterApi(env);
        await app.StartAsync();
        try
        {
            using var client = Hosts.ClientFor(app, new AgentPrincipal("ops", "olga", [DeadLetterAccess.PlatformOperatorRole]));
            var bus = app.Services.GetRequiredService<IBusControl>();
            await bus.WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(20));
            var queue = BusConventions.EndpointNameFormatter(app.Services.GetRequiredService<IOptions<BusOptions>>().Value).Consumer<PoisonConsumer>();

            // The service's queues are listed; before any fault there is no error queue: an empty list, not an error.
            var queues = await client.GetFromJsonAsync<JsonElement>(Url("/api/dead-letters"));
            Assert.Contains(queues.EnumerateArray(), q => q.GetProperty("queue").GetString() == queue && q.GetProperty("messages").GetInt32() == 0);
            Assert.Equal(0, (await client.GetFromJsonAsync<JsonElement>(Url($"/api/dead-letters/{queue}"))).GetArrayLength());

            var first = (Id: Guid.NewGuid(), MessageId: Guid.NewGuid());
            var second = (Id: Guid.NewGuid(), MessageId: Guid.NewGuid());
            var third = (Id: Guid.NewGuid(), MessageId: Guid.NewGuid());
            await bus.Publish(new Poison(first.Id, "quantity 0 is not allowed", "demo"), c => c.MessageId = first.MessageId);
            await bus.Publish(new Poison(second.Id, "currency XYZ is unknown"), c => c.MessageId = second.MessageId);
            await bus.Publish(new Poison(third.Id, "never to be retried", "acme"), c => c.MessageId = third.MessageId);

            JsonElement listed = default;
            await Poll.UntilAsync(async () =>
            {
                listed = await client.GetFromJsonAsync<JsonElement>(Url($"/api/dead-letters/{queue}"));
                return listed.GetArrayLength() == 3;
            }, () => $"GET /api/dead-letters/{queue} to list the three messages (last: {listed})", Deadline);
            var firstListed = listed.EnumerateArray().Single(m => m.GetProperty("messageId").GetString() == first.MessageId.ToString());
            Assert.Contains("quantity 0 is not allowed", firstListed.GetProperty("exceptionMessage").GetString(), StringComparison.Ordinal);
            Assert.Contains(nameof(PermanentFailureException), firstListed.GetProperty("exceptionType").GetString(), StringComparison.Ordinal);
            Assert.Contains("Poison", firstListed.GetProperty("messageType").GetString(), StringComparison.Ordinal);
            Assert.Equal("demo", firstListed.GetProperty("tenantId").GetString());
            Assert.Equal("fault", firstListed.GetProperty("reason").GetString());
            var firstFaultedAt = firstListed.GetProperty("firstFaultedAt").GetString();
            Assert.False(string.IsNullOrEmpty(firstFaultedAt));
            Assert.Equal(3, (await client.GetFromJsonAsync<JsonElement>(Url("/api/dead-letters"))).EnumerateArray().Single(q => q.GetProperty("queue").GetString() == queue).GetProperty("messages").GetInt32());

            // Show: the body and the stack trace; listing and showing leave the messages in place.
            var shown = await client.GetFromJsonAsync<JsonElement>(Url($"/api/dead-letters/{queue}/{first.MessageId}"));
            Assert.Contains(first.Id.ToString(), shown.GetProperty("body").GetString(), StringComparison.Ordinal);
            Assert.Contains(nameof(PoisonConsumer), shown.GetProperty("stackTrace").GetString(), StringComparison.Ordinal);
            Assert.Equal(3, (await client.GetFromJsonAsync<JsonElement>(Url($"/api/dead-letters/{queue}"))).GetArrayLength());

            // Unknown message, unknown queue (another service's, say): 404 problem details, nothing moves.
            using var missing = await client.PostAsync(Url($"/api/dead-letters/{queue}/{Guid.NewGuid()}/redeliver"), null);
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
            Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);
            using var foreign = await client.GetAsync(Url("/api/dead-letters/someone-elses-queue"));
            Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);
            Assert.Equal(3, (await client.GetFromJsonAsync<JsonElement>(Url($"/api/dead-letters/{queue}"))).GetArrayLength());

            // Redelivered while still broken: it fails again and comes back, remembering when it first failed.
            using (var again = await client.PostAsync(Url($"/api/dead-letters/{queue}/{first.MessageId}/redeliver"), null))
            {
                Assert.Equal(HttpStatusCode.OK, again.StatusCode);
            }

            JsonElement back = default;
            await Poll.UntilAsync(async () =>
            {
                var all = await client.GetFromJsonAsync<JsonElement>(Url($"/api/dead-letters/{queue}"));
                back = all.EnumerateArray().FirstOrDefault(m => m.GetProperty("messageId").GetString() == first.MessageId.ToString());
                return back.ValueKind == JsonValueKind.Object && back.GetProperty("redeliveries").GetInt32() == 1;
            }, Deadline, "the message redelivered while broken to come back to the error queue");
            Assert.Equal(firstFaultedAt, back.GetProperty("firstFaultedAt").GetString());

            // Delete one for good.
            using var deleted = await client.DeleteAsync(Url($"/api/dead-letters/{queue}/{third.MessageId}"));
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
            using var deletedAgain = await client.DeleteAsync(Url($"/api/dead-letters/{queue}/{third.MessageId}"));
            Assert.Equal(HttpStatusCode.NotFound, deletedAgain.StatusCode);

            // Fixed: redeliver the first by id; it is consumed, the second stays dead-lettered.
            app.Services.GetRequiredService<PoisonSwitch>().Fail = false;
            using var one = await client.PostAsync(Url($"/api/dead-letters/{queue}/{first.MessageId}/redeliver"), null);
            Assert.Equal(HttpStatusCode.OK, one.StatusCode);
            Assert.Equal(1, (await one.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("redelivered").GetInt32());
            await HealedAsync(env, first.Id, "the message redelivered by id to be consumed");
            var remaining = await client.GetFromJsonAsync<JsonElement>(Url($"/api/dead-letters/{queue}"));
            Assert.Equal(second.MessageId.ToString(), Assert.Single(remaining.EnumerateArray()).GetProperty("messageId").GetString());

            // Redeliver all.
            using var all = await client.PostAsync(Url($"/api/dead-letters/{queue}/redeliver"), null);
            Assert.Equal(HttpStatusCode.OK, all.StatusCode);
            Assert.Equal(1, (await all.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("redelivered").GetInt32());
            await HealedAsync(env, second.Id, "the message redelivered by 'all' to be consumed");
            Assert.Equal(0, (await client.GetFromJsonAsync<JsonElement>(Url($"/api/dead-letters/{queue}"))).GetArrayLength());

            await using var db = env.NewDbContext();
            Assert.Equal(1, await db.Effects.CountAsync(e => e.Key == first.Id));
            Assert.Equal(1, await db.Effects.CountAsync(e => e.Key == second.Id));
            Assert.Equal(0, await db.Effects.CountAsync(e => e.Key == third.Id));
        }
        finally
        {
            await app.StopAsync();
        }
    }

    [Fact]
    public async Task A_tenant_admin_sees_and_moves_only_dead_letters_of_their_tenant_and_others_none()
    {
        await using var env = await TestEnvironment.CreateAsync("dltenant");
        await using var app = Hosts.DeadLetterApi(env);
        await app.StartAsync();
        try
        {
            using var operatorClient = Hosts.ClientFor(app, new AgentPrincipal("ops", "olga", [DeadLetterAccess.PlatformOperatorRole]));
            using var demoAdmin = Hosts.ClientFor(app, new AgentPrincipal("demo", "carol", ["agent-user", "admin"]));
            using var acmeAdmin = Hosts.ClientFor(app, new AgentPrincipal("acme", "ann", ["admin"]));
            using var demoUser = Hosts.ClientFor(app, new AgentPrincipal("demo", "alice", ["agent-user", "approver"]));
            using var anonymous = app.GetTestClient();
            var bus = app.Services.GetRequiredService<IBusControl>();
            await bus.WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(20));
            var queue = BusConventions.EndpointNameFormatter(app.Services.GetRequiredService<IOptions<BusOptions>>().Value).Consumer<PoisonConsumer>();

            var demo = (Id: Guid.NewGuid(), MessageId: Guid.NewGuid());
            var acme = (Id: Guid.NewGuid(), MessageId: Guid.NewGuid());
            var none = (Id: Guid.NewGuid(), MessageId: Guid.NewGuid());
            await bus.Publish(new Poison(demo.Id, "demo's bad message", "demo"), c => c.MessageId = demo.MessageId);
            await bus.Publish(new Poison(acme.Id, "acme's secret order", "acme"), c => c.MessageId = acme.MessageId);
            await bus.Publish(new Poison(none.Id, "no tenant at all"), c => c.MessageId = none.MessageId);
            await Poll.UntilAsync(async () =>
                (await operatorClient.GetFromJsonAsync<JsonElement>(Url($"/api/dead-letters/{queue}"))).GetArrayLength() == 3, Deadline, "the dead-letter list to show the three messages");

            // demo's admin: only demo's message, in the list, the count, show and redelivery; acme's is "not found".
            var demoList = await demoAdmin.GetFromJsonAsync<JsonElement>(Url($"/api/dead-letters/{queue}"));
            Assert.Equal(demo.MessageId.ToString(), Assert.Single(demoList.EnumerateArray()).GetProperty("messageId").GetString());
            Assert.Equal(1, (await demoAdmin.GetFromJsonAsync<JsonElement>(Url("/api/dead-letters"))).EnumerateArray().Single(q => q.GetProperty("queue").GetString() == queue).GetProperty("messages").GetInt32());
            using (var peek = await demoAdmin.GetAsync(Url($"/api/dead-letters/{queue}/{acme.MessageId}")))
            {
                Assert.Equal(HttpStatusCode.NotFound, peek.StatusCode);
                Assert.DoesNotContain("secret", await peek.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            }

            using (var steal = await demoAdmin.DeleteAsync(Url($"/api/dead-letters/{queue}/{none.MessageId}")))
            {
                Assert.Equal(HttpStatusCode.NotFound, steal.StatusCode);
            }

            // "Redeliver all" by demo's admin moves demo's message only (it fails again: the consumer is still broken).
            using (var all = await demoAdmin.PostAsync(Url($"/api/dead-letters/{queue}/redeliver"), null))
            {
                Assert.Equal(1, (await all.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("redelivered").GetInt32());
            }

            var acmeList = await acmeAdmin.GetFromJsonAsync<JsonElement>(Url($"/api/dead-letters/{queue}"));
            Assert.Equal(acme.MessageId.ToString(), Assert.Single(acmeList.EnumerateArray()).GetProperty("messageId").GetString());

            // Without an admin role, and without a signed principal, nothing at all.
            using var refused = await demoUser.GetAsync(Url($"/api/dead-letters/{queue}"));
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
            using var unauthenticated = await anonymous.GetAsync(Url("/api/dead-letters"));
            Assert.Equal(HttpStatusCode.Unauthorized, unauthenticated.StatusCode);

            // The message naming no tenant stays for the platform operator.
            await Poll.UntilAsync(async () =>
                (await operatorClient.GetFromJsonAsync<JsonElement>(Url($"/api/dead-letters/{queue}"))).GetArrayLength() == 3, Deadline, "the dead-letter list to show the three messages");
            var noTenant = await operatorClient.GetFromJsonAsync<JsonElement>(Url($"/api/dead-letters/{queue}/{none.MessageId}"));
            Assert.Contains(none.Id.ToString(), noTenant.GetProperty("body").GetString(), StringComparison.Ordinal);
        }
        finally
        {
            await app.StopAsync();
        }
    }

    private static Uri Url(string path) => new(path, UriKind.Relative);

    [Fact]
    public async Task State_machine_schedule_is_delivered_by_the_durable_scheduler_when_due_and_unschedule_cancels_it()
    {
        var database = await TestInfrastructure.CreateDatabaseAsync("msg");
        await using var _ = database;
        var options = new DbContextOptionsBuilder<TimerDbContext>().UseNpgsql(database.ConnectionString).Options;
        await using (var create = new TimerDbContext(options))
        {
            await create.Database.EnsureCreatedAsync();
        }

        using var host = Hosts.Timer(database.ConnectionString, TestInfrastructure.UniqueName("timer"));
        await host.StartAsync();
        try
        {
            var bus = host.Services.GetRequiredService<IBusControl>();
            await bus.WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(20));
            var expiring = Guid.NewGuid();
            var stopped = Guid.NewGuid();
            var expirations = new ExpirationsSeen();
            using var seen = bus.ConnectConsumeMessageObserver(expirations);
            await bus.Publish(new StartTimer(expiring));
            await bus.Publish(new StartTimer(stopped));

            // Both wait, each with its timeout stored as a pending outbox row with a due time.
            await Poll.UntilAsync(async () =>
            {
                await using var db = new TimerDbContext(options);
                return await db.Timers.CountAsync(t => t.CurrentState == "Waiting" && t.TimeoutTokenId != null) == 2;
            }, Deadline, "the timers to start");
            await using (var db = new TimerDbContext(options))
            {
                Assert.Equal(2, await db.Set<OutboxMessage>().CountAsync(m => m.Delivered == null && m.DueTime != null && m.ScheduleTokenId != null));
            }

            await bus.Publish(new StopTimer(stopped));

            TimerState? expired = null;
            await Poll.UntilAsync(async () =>
            {
                await using var db = new TimerDbContext(options);
                expired = await db.Timers.SingleAsync(t => t.CorrelationId == expiring);
                return expired.CurrentState == "TimedOut";
            }, () => $"the timeout to arrive (state {expired?.CurrentState})", Deadline);
            Assert.True(expired!.ExpiredAt - expired.StartedAt >= TimerStateMachine.Timeout - TimeSpan.FromMilliseconds(50),
                $"the timeout arrived {(expired.ExpiredAt - expired.StartedAt)?.TotalMilliseconds} ms after the start, before its {TimerStateMachine.Timeout.TotalMilliseconds} ms delay");

            // The stopped timer's timeout was due at about the same moment; it was deleted, so it never arrives. Nothing is
            // left in the outbox (the delivered timeout's row was removed once sent, the cancelled one deleted unsent), so
            // whatever was sent is on the broker, and a timer started after that is handled after it (one message at a time).
            await Poll.UntilAsync(
                async () =>
                {
                    await using var db = new TimerDbContext(options);
                    return !await db.Set<OutboxMessage>().AnyAsync(m => m.Delivered == null || m.DueTime != null);
                },
                Deadline,
                "the outbox to have nothing left to send");
            var last = Guid.NewGuid();
            await bus.Publish(new StartTimer(last));
            await Poll.UntilAsync(
                async () =>
                {
                    await using var db = new TimerDbContext(options);
                    return await db.Timers.AnyAsync(t => t.CorrelationId == last);
                },
                Deadline,
                "the last timer to start");
            Assert.Equal([expiring], expirations.TimerIds);
            await using var check = new TimerDbContext(options);
            var cancelled = await check.Timers.SingleAsync(t => t.CorrelationId == stopped);
            Assert.Equal("Cancelled", cancelled.CurrentState);
            Assert.Null(cancelled.ExpiredAt);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    /// <summary>The timers whose timeout reached the saga's endpoint (consumed or not).</summary>
    private sealed class ExpirationsSeen : IConsumeMessageObserver<TimerExpired>
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<Guid> _timerIds = new();

        public IReadOnlyList<Guid> TimerIds => [.. _timerIds];

        public Task PreConsume(ConsumeContext<TimerExpired> context)
        {
            _timerIds.Enqueue(context.Message.TimerId);
            return Task.CompletedTask;
        }

        public Task PostConsume(ConsumeContext<TimerExpired> context) => Task.CompletedTask;

        public Task ConsumeFault(ConsumeContext<TimerExpired> context, Exception exception) => Task.CompletedTask;
    }

    private static Task SettledAsync(TestEnvironment env, int consumed, int delivered, string what) =>
        Poll.UntilAsync(
            async () =>
            {
                await using var db = env.NewDbContext();
                return await db.Set<InboxState>().CountAsync(i => i.Consumed != null) == consumed
                    && await db.Set<OutboxMessage>().CountAsync(m => m.Delivered != null) == delivered;
            },
            Deadline,
            what);

    private static Task HealedAsync(TestEnvironment env, Guid id, string what) =>
        Poll.UntilAsync(
            async () =>
            {
                await using var db = env.NewDbContext();
                return await db.Effects.AnyAsync(e => e.Key == id && e.Kind == "poison-healed");
            },
            Deadline,
            what);
}
