using System.Net;
using Agents.Contracts;
using Agents.Memory.Api;
using Agents.Memory.Memories;
using Agents.Memory.Tests.Infrastructure;
using Agents.ServiceDefaults;
using Agents.ServiceDefaults.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Agents.Memory.Tests;

/// <summary>Adversarial isolation over HTTP: another tenant's ids, crafted filters and guessed keys never reach someone else's memories.</summary>
[Collection(MemoryHostCollection.Name)]
[Trait("Category", "Infrastructure")]
public sealed class IsolationTests(MemoryHost host)
{
    [Fact]
    public async Task Another_tenants_memory_ids_answer_404_and_are_not_deleted()
    {
        var victim = MemoryHost.NewPrincipal();
        var attacker = new AgentPrincipal(TestInfrastructureNames.Tenant(), victim.UserId, ["admin"]); // same user id, other tenant
        using var victimClient = host.ClientFor(victim);
        using var attackerClient = host.ClientFor(attacker);
        var secret = await (await victimClient.PostJsonAsync("/api/memories", new StoreMemoryRequest("The merger with Initech closes on 1 May.", "user", TrustLevel.Trusted, null, null, null, null))).ReadAsync<MemoryView>();

        using var get = await attackerClient.GetAsync(new Uri($"/api/memories/{secret.Id}", UriKind.Relative));
        using var delete = await attackerClient.DeleteAsync(new Uri($"/api/memories/{secret.Id}", UriKind.Relative));
        using var eraseVictim = await attackerClient.DeleteAsync(new Uri($"/api/memories/users/{victim.UserId}", UriKind.Relative));
        using var stale = await attackerClient.PostJsonAsync("/api/memories/sources/stale", new MarkSourceStaleRequest("user"));

        Assert.Equal(ProblemTypes.NotFound, (await get.ProblemAsync(HttpStatusCode.NotFound)).GetProperty("type").GetString());
        Assert.DoesNotContain("Initech", (await delete.ProblemAsync(HttpStatusCode.NotFound)).ToString(), StringComparison.Ordinal);

        // The attacker's tenant admin "erased" a user of the same id in their own tenant only.
        Assert.Equal(0, (await eraseVictim.ReadAsync<ForgetUserResponse>()).Deleted);
        Assert.Equal(0, (await stale.ReadAsync<MarkSourceStaleResponse>()).MarkedStale);
        var still = await (await victimClient.GetAsync(new Uri($"/api/memories/{secret.Id}", UriKind.Relative))).ReadAsync<MemoryView>();
        Assert.False(still.Stale);
        var recall = await (await victimClient.PostJsonAsync("/api/memories/recall", new RecallRequest("When does the merger close?", 5, null, null))).ReadAsync<RecallResponse>();
        Assert.Single(recall.Hits);
    }

    [Fact]
    public async Task Recall_and_list_with_crafted_filters_and_guessed_keys_return_nothing_of_others()
    {
        var victim = MemoryHost.NewPrincipal();
        var colleague = MemoryHost.NewPrincipal(victim.TenantId);
        using var victimClient = host.ClientFor(victim);
        using var colleagueClient = host.ClientFor(colleague);
        var secret = await (await victimClient.PostJsonAsync("/api/memories", new StoreMemoryRequest("My salary review is scheduled for June.", "user", TrustLevel.Trusted, null, null, null, null))).ReadAsync<MemoryView>();

        // Tenant/user fields in the body are not part of the API: refused, naming them. In the query string they are ignored.
        using var craftedBody = await colleagueClient.PostJsonAsync("/api/memories/recall", new
        {
            query = "salary review",
            top = 20,
            minRelevance = -1.0,
            tenantId = victim.TenantId,
            userId = victim.UserId,
            filter = new { user_id = victim.UserId },
        });
        var refusal = (await craftedBody.ProblemAsync(HttpStatusCode.BadRequest)).GetProperty("errors");
        Assert.True(refusal.TryGetProperty("tenantId", out _) && refusal.TryGetProperty("userId", out _) && refusal.TryGetProperty("filter", out _), refusal.ToString());
        var crafted = await (await colleagueClient.PostJsonAsync("/api/memories/recall", new RecallRequest("salary review", 20, -1.0, null))).ReadAsync<RecallResponse>();
        var list = await (await colleagueClient.GetAsync(new Uri($"/api/memories?userId={victim.UserId}&tenantId={victim.TenantId}&limit=500", UriKind.Relative))).ReadAsync<List<MemoryView>>();
        var stored = await (await colleagueClient.PostJsonAsync("/api/memories", new StoreMemoryRequest("colleague's own note", "user", TrustLevel.Trusted, null, secret.Id, null, null))).ReadAsync<MemoryView>();
        using var injection = await colleagueClient.GetAsync(new Uri("/api/memories/sessions/x'%20OR%20'1'='1", UriKind.Relative));

        Assert.Empty(crafted.Hits);
        Assert.Empty(list);

        // Reusing the victim's memory id creates the colleague's own memory; the victim's is untouched.
        Assert.Equal("colleague's own note", stored.Text);
        var victimCopy = await (await victimClient.GetAsync(new Uri($"/api/memories/{secret.Id}", UriKind.Relative))).ReadAsync<MemoryView>();
        Assert.Equal("My salary review is scheduled for June.", victimCopy.Text);
        await injection.ProblemAsync(HttpStatusCode.NotFound);
        Assert.Equal(2, await host.WithDbAsync(db => db.Memories.CountAsync(m => m.Id == secret.Id)));
    }

    [Fact]
    public async Task A_principal_signed_with_another_key_or_expired_is_rejected()
    {
        using var client = host.Factory.CreateClient();
        var foreignSigner = new PrincipalSigner(
            Microsoft.Extensions.Options.Options.Create(new IdentityOptions { SigningKey = "a-completely-different-key-0123456789abcdef" }),
            host.Time);
        var ownSigner = host.Services.GetRequiredService<PrincipalSigner>();
        var principal = MemoryHost.NewPrincipal();

        using var foreign = new HttpRequestMessage(HttpMethod.Get, "/api/memories");
        foreign.Headers.Add(PrincipalSigner.HeaderName, foreignSigner.Sign(principal));
        using var foreignResponse = await client.SendAsync(foreign);
        var expiredToken = ownSigner.Sign(principal);
        host.Time.Advance(TimeSpan.FromMinutes(10));
        using var expired = new HttpRequestMessage(HttpMethod.Get, "/api/memories");
        expired.Headers.Add(PrincipalSigner.HeaderName, expiredToken);
        using var expiredResponse = await client.SendAsync(expired);

        Assert.Contains("signature", (await foreignResponse.ProblemAsync(HttpStatusCode.Unauthorized)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains("expired", (await expiredResponse.ProblemAsync(HttpStatusCode.Unauthorized)).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }
}
