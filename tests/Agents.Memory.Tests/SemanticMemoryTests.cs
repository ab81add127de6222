using System.Net;
using System.Net.Http.Json;
using System.Text;
using Agents.Contracts;
using Agents.Memory.Api;
using Agents.Memory.Memories;
using Agents.Memory.Tests.Infrastructure;
using Agents.ServiceDefaults;

namespace Agents.Memory.Tests;

[Collection(MemoryHostCollection.Name)]
[Trait("Category", "Infrastructure")]
public sealed class SemanticMemoryTests(MemoryHost host)
{
    [Fact]
    public async Task Stored_fact_is_recalled_with_its_provenance_and_trust_label()
    {
        using var client = host.ClientFor(MemoryHost.NewPrincipal());
        var taskId = Guid.NewGuid();
        var stored = await (await client.PostJsonAsync("/api/memories", new StoreMemoryRequest(
            "The ACME account's billing contact is Dana Smith, reachable at extension 4412.",
            "http://kb.local/articles/acme-billing",
            TrustLevel.Untrusted,
            null,
            null,
            taskId,
            "fetch-article"))).ReadAsync<MemoryView>();
        await client.PostJsonAsync("/api/memories", new StoreMemoryRequest("The team prefers weekly status reports on Fridays.", "user", TrustLevel.Trusted, null, null, null, null));

        var recall = await (await client.PostJsonAsync("/api/memories/recall", new RecallRequest("Who handles billing for ACME?", 3, null, null))).ReadAsync<RecallResponse>();

        var hit = Assert.Single(recall.Hits);
        Assert.Equal(stored.Id, hit.Memory.Id);
        Assert.Equal("semantic", hit.Memory.Kind);
        Assert.Equal("http://kb.local/articles/acme-billing", hit.Memory.Source);
        Assert.Equal(taskId, hit.Memory.SourceTaskId);
        Assert.Equal("fetch-article", hit.Memory.SourceStepId);
        Assert.Equal(TrustLevel.Untrusted, hit.Memory.Trust);
        Assert.Equal(host.Time.GetUtcNow().Ticks / 10, hit.Memory.CreatedAt.Ticks / 10); // PostgreSQL keeps microseconds
        Assert.True(hit.Similarity >= 0.35, $"similarity {hit.Similarity}");
        Assert.True(recall.EmbeddingMilliseconds > 0);
    }

    [Fact]
    public async Task Trust_defaults_to_untrusted_when_the_caller_does_not_say()
    {
        using var client = host.ClientFor(MemoryHost.NewPrincipal());

        var stored = await (await client.PostJsonAsync("/api/memories", new { text = "The staging cluster is in Frankfurt.", source = "http://wiki.local/infra" })).ReadAsync<MemoryView>();

        Assert.Equal(TrustLevel.Untrusted, stored.Trust);
        var read = await (await client.GetAsync(new Uri($"/api/memories/{stored.Id}", UriKind.Relative))).ReadAsync<MemoryView>();
        Assert.Equal(TrustLevel.Untrusted, read.Trust);
    }

    [Fact]
    public async Task Recall_below_the_relevance_threshold_returns_nothing()
    {
        using var client = host.ClientFor(MemoryHost.NewPrincipal());
        await client.PostJsonAsync("/api/memories", new StoreMemoryRequest("The production database is backed up every night at 02:00 UTC.", "user", TrustLevel.Trusted, null, null, null, null));

        var unrelated = await (await client.PostJsonAsync("/api/memories/recall", new RecallRequest("favourite pizza toppings in Naples", 5, null, null))).ReadAsync<RecallResponse>();
        var related = await (await client.PostJsonAsync("/api/memories/recall", new RecallRequest("When do database backups run?", 5, null, null))).ReadAsync<RecallResponse>();
        var strict = await (await client.PostJsonAsync("/api/memories/recall", new RecallRequest("When do database backups run?", 5, 0.99, null))).ReadAsync<RecallResponse>();

        Assert.Empty(unrelated.Hits);
        Assert.Single(related.Hits);
        Assert.Empty(strict.Hits);
    }

    [Fact]
    public async Task Recency_weighting_ranks_the_newer_of_two_equally_relevant_memories_first()
    {
        using var client = host.ClientFor(MemoryHost.NewPrincipal());
        var older = await (await client.PostJsonAsync("/api/memories", new StoreMemoryRequest("The VPN gateway address is vpn.example.internal.", "user", TrustLevel.Trusted, null, null, null, null))).ReadAsync<MemoryView>();
        host.Time.Advance(TimeSpan.FromDays(60));
        var newer = await (await client.PostJsonAsync("/api/memories", new StoreMemoryRequest("The VPN gateway address is vpn.example.internal.", "user", TrustLevel.Trusted, null, null, null, null))).ReadAsync<MemoryView>();

        var recall = await (await client.PostJsonAsync("/api/memories/recall", new RecallRequest("What is the VPN gateway address?", 5, null, null))).ReadAsync<RecallResponse>();

        Assert.Equal([newer.Id, older.Id], recall.Hits.Select(h => h.Memory.Id));
        Assert.Equal(recall.Hits[0].Similarity, recall.Hits[1].Similarity, 4);

        // score = similarity * ((1 - 0.2) + 0.2 * 0.5^(age / 30 days)): the older one is two half-lives old.
        Assert.Equal(recall.Hits[0].Similarity, recall.Hits[0].Score, 6);
        Assert.Equal(recall.Hits[1].Similarity * (0.8 + (0.2 * 0.25)), recall.Hits[1].Score, 6);
    }

    [Fact]
    public async Task Recall_can_be_limited_to_a_kind_and_respects_top()
    {
        using var client = host.ClientFor(MemoryHost.NewPrincipal());
        for (var i = 0; i < 4; i++)
        {
            await client.PostJsonAsync("/api/memories", new StoreMemoryRequest($"Deployment note {i}: the release pipeline deploys to production after approval.", "user", TrustLevel.Trusted, null, null, null, null));
        }

        await client.PostJsonAsync("/api/memories", new StoreMemoryRequest("Task completed: deployed the release pipeline to production.", "task:x", TrustLevel.Trusted, "episodic", null, null, null));

        var top2 = await (await client.PostJsonAsync("/api/memories/recall", new RecallRequest("how does the release pipeline deploy to production", 2, null, null))).ReadAsync<RecallResponse>();
        var episodic = await (await client.PostJsonAsync("/api/memories/recall", new RecallRequest("how does the release pipeline deploy to production", 5, null, ["episodic"]))).ReadAsync<RecallResponse>();

        Assert.Equal(2, top2.Hits.Count);
        Assert.Equal("episodic", Assert.Single(episodic.Hits).Memory.Kind);
    }

    [Fact]
    public async Task Storing_the_same_id_twice_keeps_one_memory()
    {
        using var client = host.ClientFor(MemoryHost.NewPrincipal());
        var id = Guid.NewGuid();
        var request = new StoreMemoryRequest("The on-call rota changes on Mondays.", "user", TrustLevel.Trusted, null, id, null, null);

        var first = await client.PostJsonAsync("/api/memories", request);
        var second = await client.PostJsonAsync("/api/memories", request);
        var list = await (await client.GetAsync(new Uri("/api/memories", UriKind.Relative))).ReadAsync<List<MemoryView>>();

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(id, Assert.Single(list).Id);
    }

    [Fact]
    public async Task Malformed_json_and_invalid_fields_answer_400_problem_details()
    {
        using var client = host.ClientFor(MemoryHost.NewPrincipal());

        using var malformed = await client.PostAsync(new Uri("/api/memories", UriKind.Relative), new StringContent("{\"text\": \"unterminated", Encoding.UTF8, "application/json"));
        var malformedProblem = await malformed.ProblemAsync(HttpStatusCode.BadRequest);
        using var invalid = await client.PostJsonAsync("/api/memories", new { text = "", source = "user", kind = "procedural" });
        var invalidProblem = await invalid.ProblemAsync(HttpStatusCode.BadRequest);
        using var badTop = await client.PostJsonAsync("/api/memories/recall", new { query = "x", top = 1000 });
        var badTopProblem = await badTop.ProblemAsync(HttpStatusCode.BadRequest);
        using var wrongType = await client.PostAsync(new Uri("/api/memories/recall", UriKind.Relative), new StringContent("{\"query\": 5}", Encoding.UTF8, "application/json"));
        var wrongTypeProblem = await wrongType.ProblemAsync(HttpStatusCode.BadRequest);

        Assert.Equal(ProblemTypes.Validation, malformedProblem.GetProperty("type").GetString());
        Assert.Contains("not valid JSON", malformedProblem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(ProblemTypes.Validation, invalidProblem.GetProperty("type").GetString());
        Assert.True(invalidProblem.GetProperty("errors").TryGetProperty("text", out _));
        Assert.True(invalidProblem.GetProperty("errors").TryGetProperty("kind", out _));
        Assert.True(badTopProblem.GetProperty("errors").TryGetProperty("top", out _));
        Assert.Contains("$.query", wrongTypeProblem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Requests_without_a_valid_signed_principal_answer_401()
    {
        using var anonymous = host.Factory.CreateClient();
        using var forged = host.Factory.CreateClient();
        forged.DefaultRequestHeaders.Add("X-Agents-Principal", "eyJ0ZW5hbnQiOiJ4In0.AAAA");

        using var none = await anonymous.GetAsync(new Uri("/api/memories", UriKind.Relative));
        using var bad = await forged.PostAsJsonAsync("/api/memories/recall", new { query = "anything" });

        Assert.Equal(ProblemTypes.Unauthenticated, (await none.ProblemAsync(HttpStatusCode.Unauthorized)).GetProperty("type").GetString());
        Assert.Equal(ProblemTypes.Unauthenticated, (await bad.ProblemAsync(HttpStatusCode.Unauthorized)).GetProperty("type").GetString());
    }
}
