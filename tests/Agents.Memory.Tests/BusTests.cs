using System.Net;
using Agents.Contracts;
using Agents.Memory.Api;
using Agents.Memory.Memories;
using Agents.Memory.Tests.Infrastructure;
using Agents.Messaging.Data;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Agents.Memory.Tests;

/// <summary>The consumers over the real RabbitMQ: RecallMemories request/response, RememberFact, MarkSourceStale, episodes from TaskRunFinished.</summary>
[Collection(MemoryHostCollection.Name)]
[Trait("Category", "Infrastructure")]
public sealed class BusTests(MemoryHost host)
{
    private IBus Bus => host.Services.GetRequiredService<IBus>();

    [Fact]
    public async Task RememberFact_is_stored_and_RecallMemories_answers_with_it_over_the_bus()
    {
        var principal = MemoryHost.NewPrincipal();
        var factId = Guid.NewGuid();
        var taskId = Guid.NewGuid();
        await Bus.Publish(new RememberFact(factId, principal, "Customer 42 prefers to be contacted by email, never by phone.", "crm.lookup-customer", TrustLevel.Untrusted, taskId, "lookup"));
        using var client = host.ClientFor(principal);
        await HttpExtensions.EventuallyAsync(() => client.GetAsync(new Uri($"/api/memories/{factId}", UriKind.Relative)), r => r.StatusCode == HttpStatusCode.OK);

        var response = await Bus.CreateRequestClient<RecallMemories>(RequestTimeout.After(s: 30))
            .GetResponse<MemoriesRecalled>(new RecallMemories(taskId, principal, "How should we contact customer 42?", 3));

        Assert.Equal(taskId, response.Message.TaskId);
        var memory = Assert.Single(response.Message.Memories);
        Assert.Equal(factId, memory.MemoryId);
        Assert.Equal("semantic", memory.Kind);
        Assert.Equal("crm.lookup-customer", memory.Source);
        Assert.Equal(TrustLevel.Untrusted, memory.Trust);
        Assert.True(memory.Score > 0.35);
    }

    [Fact]
    public async Task A_published_MarkSourceStale_takes_a_sources_memories_out_of_recall_for_the_tenant_and_a_redelivery_changes_nothing()
    {
        var principal = MemoryHost.NewPrincipal();
        var colleague = MemoryHost.NewPrincipal(principal.TenantId);
        var otherTenant = MemoryHost.NewPrincipal();
        const string source = "http://kb.local/articles/shipping-times";
        const string text = "Orders ship within two working days.";
        using var client = host.ClientFor(principal);
        using var colleagueClient = host.ClientFor(colleague);
        using var otherClient = host.ClientFor(otherTenant);
        var mine = await (await client.PostJsonAsync("/api/memories", new StoreMemoryRequest(text, source, TrustLevel.Untrusted, null, null, null, null))).ReadAsync<MemoryView>();
        var theirs = await (await colleagueClient.PostJsonAsync("/api/memories", new StoreMemoryRequest(text, source, TrustLevel.Untrusted, null, null, null, null))).ReadAsync<MemoryView>();
        var elsewhere = await (await otherClient.PostJsonAsync("/api/memories", new StoreMemoryRequest(text, source, TrustLevel.Untrusted, null, null, null, null))).ReadAsync<MemoryView>();

        var message = new MarkSourceStale(principal.TenantId, null, source);
        await Bus.Publish(message);
        await Bus.Publish(message);

        foreach (var (owner, id) in new[] { (client, mine.Id), (colleagueClient, theirs.Id) })
        {
            var listed = await HttpExtensions.EventuallyAsync(
                async () => await (await owner.GetAsync(new Uri($"/api/memories/{id}", UriKind.Relative))).ReadAsync<MemoryView>(),
                v => v.Stale);
            Assert.True(listed.Stale);
        }

        var recall = await (await client.PostJsonAsync("/api/memories/recall", new RecallRequest("how fast do orders ship?", 5, null, null))).ReadAsync<RecallResponse>();
        Assert.Empty(recall.Hits);

        // Another tenant's memory from the same source is untouched.
        var untouched = await (await otherClient.GetAsync(new Uri($"/api/memories/{elsewhere.Id}", UriKind.Relative))).ReadAsync<MemoryView>();
        Assert.False(untouched.Stale);
        var otherRecall = await (await otherClient.PostJsonAsync("/api/memories/recall", new RecallRequest("how fast do orders ship?", 5, null, null))).ReadAsync<RecallResponse>();
        Assert.Equal(elsewhere.Id, Assert.Single(otherRecall.Hits).Memory.Id);
    }

    [Fact]
    public async Task A_published_TaskRunFinished_becomes_one_episodic_memory_even_when_delivered_twice()
    {
        var principal = MemoryHost.NewPrincipal();
        var taskId = Guid.NewGuid();
        var finished = new TaskRunFinished(
            taskId,
            principal,
            "Debug the login failures of the auth service",
            TaskRunStatus.Completed,
            "The auth service rejected tokens because its clock drifted; NTP was re-enabled.",
            null,
            new TaskUsage(4, 2, 900, 300, 0.01m),
            host.Time.GetUtcNow());
        Guid[] deliveries = [Guid.NewGuid(), Guid.NewGuid()];
        foreach (var messageId in deliveries)
        {
            await Bus.Publish(finished, (PublishContext<TaskRunFinished> c) => c.MessageId = messageId);
        }

        using var client = host.ClientFor(principal);

        var episode = await HttpExtensions.EventuallyAsync(() => client.GetAsync(new Uri($"/api/memories/{taskId}", UriKind.Relative)), r => r.StatusCode == HttpStatusCode.OK);
        var memory = await episode.ReadAsync<MemoryView>();

        // Stored at once; recallable once the background embedder (woken by the commit) has embedded it.
        var recall = await HttpExtensions.EventuallyAsync(
            async () => await (await client.PostJsonAsync("/api/memories/recall", new RecallRequest("remember when we debugged that auth issue?", 5, null, null))).ReadAsync<RecallResponse>(),
            r => r.Hits.Count > 0);

        // Count only after both deliveries are consumed (each has its own message id, so the inbox lets both through).
        var consumed = await HttpExtensions.EventuallyAsync(
            () => host.WithDbAsync(db => db.Set<InboxState>().CountAsync(i => deliveries.Contains(i.MessageId) && i.Consumed != null)),
            count => count == deliveries.Length);
        Assert.Equal(deliveries.Length, consumed);
        var all = await (await client.GetAsync(new Uri("/api/memories", UriKind.Relative))).ReadAsync<List<MemoryView>>();

        Assert.Equal("episodic", memory.Kind);
        Assert.Equal($"task:{taskId:D}", memory.Source);
        Assert.Equal(taskId, memory.SourceTaskId);
        Assert.Equal(TrustLevel.Untrusted, memory.Trust); // the result may carry outside content
        Assert.Contains("Debug the login failures", memory.Text, StringComparison.Ordinal);
        Assert.Contains("completed", memory.Text, StringComparison.Ordinal);
        Assert.Equal(taskId, Assert.Single(recall.Hits).Memory.Id);
        Assert.Single(all);
    }

    [Fact]
    public async Task RecallMemories_never_returns_another_tenants_or_users_memories()
    {
        var owner = MemoryHost.NewPrincipal();
        var sameTenantOtherUser = MemoryHost.NewPrincipal(owner.TenantId);
        var otherTenantSameUserId = new AgentPrincipal(TestInfrastructureNames.Tenant(), owner.UserId, []);
        var factId = Guid.NewGuid();
        await Bus.Publish(new RememberFact(factId, owner, "The secret launch codename is BLUE HERON.", "user", TrustLevel.Trusted));
        using var client = host.ClientFor(owner);
        await HttpExtensions.EventuallyAsync(() => client.GetAsync(new Uri($"/api/memories/{factId}", UriKind.Relative)), r => r.StatusCode == HttpStatusCode.OK);
        var requests = Bus.CreateRequestClient<RecallMemories>(RequestTimeout.After(s: 30));

        var own = await requests.GetResponse<MemoriesRecalled>(new RecallMemories(Guid.NewGuid(), owner, "What is the launch codename?", 5));
        var colleague = await requests.GetResponse<MemoriesRecalled>(new RecallMemories(Guid.NewGuid(), sameTenantOtherUser, "What is the launch codename?", 5));
        var stranger = await requests.GetResponse<MemoriesRecalled>(new RecallMemories(Guid.NewGuid(), otherTenantSameUserId, "What is the launch codename?", 5));

        Assert.Single(own.Message.Memories);
        Assert.Empty(colleague.Message.Memories);
        Assert.Empty(stranger.Message.Memories);
    }

    [Fact]
    public async Task A_RememberFact_without_a_tenant_is_faulted_and_not_stored()
    {
        var bad = new AgentPrincipal("", "someone", []);
        var factId = Guid.NewGuid();

        var fault = await FaultOfAsync<RememberFact>(
            m => m.FactId == factId,
            () => Bus.Publish(new RememberFact(factId, bad, "Anything.", "user", TrustLevel.Trusted)));

        Assert.Contains("principal with a tenant and a user", fault.Exceptions[0].Message, StringComparison.Ordinal);
        Assert.Equal(0, await host.WithDbAsync(db => Task.FromResult(db.Memories.Count(m => m.Id == factId))));
    }

    [Fact]
    public async Task A_MarkSourceStale_without_a_tenant_is_faulted_with_the_reason_and_marks_nothing()
    {
        var principal = MemoryHost.NewPrincipal();
        var source = $"http://kb.local/articles/{Guid.NewGuid():N}";
        using var client = host.ClientFor(principal);
        var kept = await (await client.PostJsonAsync("/api/memories", new StoreMemoryRequest("Returns are free for 30 days.", source, TrustLevel.Untrusted, null, null, null, null))).ReadAsync<MemoryView>();

        var fault = await FaultOfAsync<MarkSourceStale>(m => m.Source == source, () => Bus.Publish(new MarkSourceStale("", null, source)));

        Assert.StartsWith("MarkSourceStale.TenantId must be 1 to", fault.Exceptions[0].Message, StringComparison.Ordinal);
        var listed = await (await client.GetAsync(new Uri($"/api/memories/{kept.Id}", UriKind.Relative))).ReadAsync<MemoryView>();
        Assert.False(listed.Stale);
    }

    /// <summary>Sends with <paramref name="send"/> and waits for the fault of the message that <paramref name="match"/> picks.</summary>
    private async Task<Fault<T>> FaultOfAsync<T>(Func<T, bool> match, Func<Task> send)
        where T : class
    {
        var faulted = new TaskCompletionSource<Fault<T>>(TaskCreationOptions.RunContinuationsAsynchronously);
        var handle = host.Services.GetRequiredService<IBus>().ConnectReceiveEndpoint(new TemporaryEndpointDefinition(), KebabCaseEndpointNameFormatter.Instance, e =>
            e.Handler<Fault<T>>(context =>
            {
                if (match(context.Message.Message))
                {
                    faulted.TrySetResult(context.Message);
                }

                return Task.CompletedTask;
            }));
        await handle.Ready;
        try
        {
            await send();
            return await faulted.Task.WaitAsync(TimeSpan.FromSeconds(20));
        }
        finally
        {
            await handle.StopAsync();
        }
    }
}

internal static class TestInfrastructureNames
{
    public static string Tenant() => Agents.Testing.TestInfrastructure.UniqueName("tenant");
}
