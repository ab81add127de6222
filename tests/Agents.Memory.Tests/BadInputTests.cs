using System.Net;
using System.Text;
using Agents.Memory.Tests.Infrastructure;
using Agents.ServiceDefaults;
using Microsoft.EntityFrameworkCore;

namespace Agents.Memory.Tests;

/// <summary>Every route that stores text refuses what PostgreSQL cannot store, unknown fields and non-JSON bodies, storing nothing.</summary>
[Collection(MemoryHostCollection.Name)]
[Trait("Category", "Infrastructure")]
public sealed class BadInputTests(MemoryHost host)
{
    public static TheoryData<string, string, string, string> Writes => new()
    {
        { "POST", "/api/memories", """{"text":"a\u0000b","source":"user"}""", "text" },
        { "POST", "/api/memories", """{"text":"fine","source":"x\uD800"}""", "source" },
        { "POST", "/api/memories", """{"text":"fine","source":"user","sourceStepId":"s\u0000"}""", "sourceStepId" },
        { "POST", "/api/memories", """{"text":"fine","source":"user","trusted":"Trusted"}""", "trusted" },
        { "POST", "/api/memories/sessions/s-1/messages", """{"role":"user","content":"hi\u0000"}""", "content" },
        { "POST", "/api/memories/sessions/s-1/messages", """{"role":"user","content":"hi","contnet":"x"}""", "contnet" },
        { "PUT", "/api/memories/procedures/agent-1/greet", """{"content":"\uDBFFstep"}""", "content" },
        { "PUT", "/api/memories/procedures/agent-1/greet", """{"content":"step","expectedVersion":null,"version":1}""", "version" },
        { "POST", "/api/memories/recall", """{"query":"a\u0000","top":3}""", "query" },
        { "POST", "/api/memories/recall", """{"query":"a","kinds":null,"topK":3}""", "topK" },
        { "POST", "/api/memories/sources/stale", """{"source":"x\u0000"}""", "source" },
    };

    [Theory]
    [MemberData(nameof(Writes))]
    public async Task Bad_text_or_an_unknown_field_is_400_naming_the_field_and_nothing_is_stored(string method, string route, string body, string field)
    {
        var principal = MemoryHost.NewPrincipal(null, "admin");
        using var client = host.ClientFor(principal);
        using var request = new HttpRequestMessage(new HttpMethod(method), route) { Content = new StringContent(body, Encoding.UTF8, "application/json") };

        using var response = await client.SendAsync(request);

        var problem = await response.ProblemAsync(HttpStatusCode.BadRequest);
        Assert.Equal(ProblemTypes.Validation, problem.GetProperty("type").GetString());
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
        Assert.Equal(0, await StoredRowsAsync(principal.TenantId));
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/xml")]
    [InlineData("application/x-www-form-urlencoded")]
    public async Task A_body_that_is_not_json_is_415(string contentType)
    {
        var principal = MemoryHost.NewPrincipal(null, "admin");
        using var client = host.ClientFor(principal);
        using var content = new StringContent("""{"text":"a","source":"user"}""", Encoding.UTF8);
        content.Headers.ContentType = new(contentType);

        using var response = await client.PostAsync(new Uri("/api/memories", UriKind.Relative), content);

        var problem = await response.ProblemAsync(HttpStatusCode.UnsupportedMediaType);
        Assert.Equal(ProblemTypes.UnsupportedMediaType, problem.GetProperty("type").GetString());
        Assert.Equal(0, await StoredRowsAsync(principal.TenantId));
    }

    [Theory]
    [InlineData("?limit=99999999999", "limit")]
    [InlineData("?limit=abc", "limit")]
    [InlineData("?limit=1&limit=2", "limit")]
    [InlineData("?offset=1e3", "offset")]
    public async Task A_query_value_that_does_not_bind_is_400(string query, string parameter)
    {
        using var client = host.ClientFor(MemoryHost.NewPrincipal());

        using var response = await client.GetAsync(new Uri("/api/memories" + query, UriKind.Relative));

        var problem = await response.ProblemAsync(HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(parameter, out _), problem.ToString());
    }

    private Task<int> StoredRowsAsync(string tenant) => host.WithDbAsync(async db =>
        await db.Memories.CountAsync(m => m.TenantId == tenant)
        + await db.ShortTermMessages.CountAsync(m => m.TenantId == tenant)
        + await db.Procedures.CountAsync(p => p.TenantId == tenant));
}
