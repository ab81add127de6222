using Agents.Contracts;
using Agents.Memory.Memories;
using Agents.Memory.Tests.Infrastructure;
using Agents.Memory.VectorSearch;
using Agents.Messaging.Data;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Agents.Memory.Tests;

/// <summary>
/// Durable messaging in the memory service, on a host of its own: the shared host may run extra
/// replicas (competing consumers), and this test looks at one replica's vector index.
/// </summary>
[Trait("Category", "Infrastructure")]
public sealed class InboxTests(MemoryHost host) : IClassFixture<MemoryHost>
{
    private IBus Bus => host.Services.GetRequiredService<IBus>();

    [Fact]
    public async Task Consumers_run_in_the_inbox_the_vector_index_learns_after_the_commit_and_responses_use_the_outbox()
    {
        var principal = MemoryHost.NewPrincipal();
        var scope = MemoryLimits.ScopeOf(principal);
        var taskId = Guid.NewGuid();
        var client = Bus.CreateRequestClient<RecallMemories>(RequestTimeout.After(s: 30));

        // Load the scope's index (empty) so that a later store is applied to it in place.
        var recallId = Guid.NewGuid();
        var empty = await client.GetResponse<MemoriesRecalled>(new RecallMemories(taskId, principal, "contact preferences", 3), r => r.UseExecute(c => c.MessageId = recallId));
        Assert.Empty(empty.Message.Memories);
        var answer = await host.WithDbAsync(db => db.Set<OutboxMessage>().AsNoTracking().SingleAsync(m => m.InboxMessageId == recallId));
        Assert.NotNull(answer.RequestId);

        var factId = Guid.NewGuid();
        var messageId = Guid.NewGuid();
        var fact = new RememberFact(factId, principal, "Customer 7 wants invoices as PDF attachments.", "user", TrustLevel.Trusted, taskId, "s1");
        await Bus.Publish(fact, (PublishContext<RememberFact> c) => c.MessageId = messageId);
        await Bus.Publish(fact, (PublishContext<RememberFact> c) => c.MessageId = messageId);
        var inbox = await HttpExtensions.EventuallyAsync(
            () => host.WithDbAsync(db => db.Set<InboxState>().AsNoTracking().Where(i => i.MessageId == messageId).ToListAsync()),
            rows => rows.Count == 1 && rows[0].Consumed is not null && rows[0].ReceiveCount == 2);
        Assert.True(inbox is [{ Consumed: not null, ReceiveCount: 2 }], "The fact's message was not consumed once and skipped once by the inbox.");

        // Applied to the cached index after the inbox transaction committed (no reload: the index is at the new version).
        var vectors = host.Services.GetRequiredService<PostgresVectorStore>();
        Assert.True(await HttpExtensions.EventuallyAsync(() => Task.FromResult(vectors.IsCached(scope, factId)), cached => cached, TimeSpan.FromSeconds(5)));
        var recalled = await client.GetResponse<MemoriesRecalled>(new RecallMemories(taskId, principal, "How does customer 7 want invoices?", 3));
        Assert.Equal(factId, Assert.Single(recalled.Message.Memories).MemoryId);
        Assert.Equal(1, await host.WithDbAsync(db => db.Memories.CountAsync(m => m.TenantId == scope.TenantId && m.UserId == scope.UserId)));
    }
}
