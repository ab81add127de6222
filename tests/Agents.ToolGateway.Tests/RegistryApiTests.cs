using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Agents.Contracts;
using Agents.ServiceDefaults;
using Agents.Testing;
using Agents.ToolGateway.Tests.Infrastructure;
using MassTransit;

namespace Agents.ToolGateway.Tests;

[Collection(ToolGatewayCollection.Name)]
[Trait("Category", "Infrastructure")]
public sealed class RegistryApiTests(ToolGatewayFixture gateway)
{
    [Fact]
    public async Task Announced_tool_is_listed_and_described_with_schemas_side_effect_risk_scope_and_circuit()
    {
        var name = ToolGatewayFixture.UniqueToolName("crm");
        var descriptor = ToolGatewayFixture.Tool(name, SideEffectClass.Mutating, compensable: true) with { Risk = RiskTier.High, RequiredScope = "crm.write" };
        await gateway.AnnounceAsync(descriptor, "crm-host-1");
        var reader = gateway.NewPrincipal();

        using var list = await gateway.Client.SendAsync(gateway.Get("/api/tools", reader));
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        var tools = await list.Content.ReadFromJsonAsync<JsonElement>();
        var listed = tools.EnumerateArray().Single(t => t.GetProperty("name").GetString() == name);
        Assert.Equal("Mutating", listed.GetProperty("sideEffect").GetString());
        Assert.Equal("High", listed.GetProperty("risk").GetString());
        Assert.Equal("Closed", listed.GetProperty("circuit").GetProperty("state").GetString());

        using var detail = await gateway.Client.SendAsync(gateway.Get("/api/tools/" + name, reader));
        Assert.Equal(HttpStatusCode.OK, detail.StatusCode);
        var tool = await detail.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("crm.write", tool.GetProperty("requiredScope").GetString());
        Assert.True(tool.GetProperty("compensable").GetBoolean());
        Assert.Equal("crm-host-1", tool.GetProperty("instance").GetString());
        Assert.Equal("1.0.0", tool.GetProperty("version").GetString());
        Assert.Equal("string", tool.GetProperty("inputSchema").GetProperty("properties").GetProperty("query").GetProperty("type").GetString());
        Assert.Equal("object", tool.GetProperty("outputSchema").GetProperty("type").GetString());
        Assert.True(tool.GetProperty("lastSeenAt").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-1));
    }

    [Fact]
    public async Task Newer_announcement_updates_version_and_instance_and_an_older_one_is_ignored()
    {
        var name = ToolGatewayFixture.UniqueToolName("web");
        var now = DateTimeOffset.UtcNow;
        await gateway.AnnounceAsync(ToolGatewayFixture.Tool(name, version: "1.0.0"), "web-1", now);
        await gateway.AnnounceAsync(ToolGatewayFixture.Tool(name, version: "1.1.0"), "web-2", now.AddSeconds(1));

        // An announcement made earlier (delivered late) must not roll the registry back.
        await gateway.TestBus.Publish(new ToolAnnounced(ToolGatewayFixture.Tool(name, version: "0.9.0"), "web-old", now.AddSeconds(-30)));
        var marker = ToolGatewayFixture.UniqueToolName("marker");
        await gateway.AnnounceAsync(ToolGatewayFixture.Tool(marker), "marker");

        await using var db = gateway.CreateDbContext();
        var row = db.Tools.Single(t => t.Name == name);
        Assert.Equal("1.1.0", row.Version);
        Assert.Equal("web-2", row.Instance);
    }

    [Fact]
    public async Task Invalid_announcement_is_faulted_with_the_reason_and_not_registered()
    {
        var badSchema = ToolGatewayFixture.UniqueToolName("bad");
        await gateway.TestBus.Publish(new ToolAnnounced(ToolGatewayFixture.Tool(badSchema, inputSchema: "{not json"), "bad-host", DateTimeOffset.UtcNow));

        Fault<ToolAnnounced>? fault = null;
        await Poll.UntilAsync(
            () => (fault = gateway.Observer.AnnouncementFaults.FirstOrDefault(f => f.Message.Tool.Name == badSchema)) is not null,
            what: "a fault of the invalid announcement",
            every: TimeSpan.FromMilliseconds(50));

        Assert.Contains("not a valid JSON schema", fault!.Exceptions[0].Message, StringComparison.Ordinal);
        using var detail = await gateway.Client.SendAsync(gateway.Get("/api/tools/" + badSchema, gateway.NewPrincipal()));
        Assert.Equal(HttpStatusCode.NotFound, detail.StatusCode);
    }

    [Fact]
    public async Task Listing_without_a_signed_principal_answers_401_problem_details()
    {
        using var response = await gateway.Client.SendAsync(gateway.Get("/api/tools", principal: null));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(ProblemTypes.Unauthenticated, problem.GetProperty("type").GetString());
    }

    [Fact]
    public async Task Forged_principal_answers_401()
    {
        var request = gateway.Get("/api/tools", principal: null);
        var signed = gateway.SignedPrincipal(gateway.NewPrincipal());
        request.Headers.Add("X-Agents-Principal", signed[..^2] + (signed[^2..] == "AA" ? "BB" : "AA"));

        using var response = await gateway.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Unknown_tool_answers_404_problem_details()
    {
        using var response = await gateway.Client.SendAsync(gateway.Get("/api/tools/no.such-tool", gateway.NewPrincipal()));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(ProblemTypes.NotFound, problem.GetProperty("type").GetString());
        Assert.Contains("no.such-tool", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }
}
