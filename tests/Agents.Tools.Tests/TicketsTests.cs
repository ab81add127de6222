using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Agents.Contracts;
using Agents.Testing;
using Agents.Tools.Sdk;
using Agents.Tools.Sdk.Hosting;
using Agents.Tools.Sdk.Schema;
using Agents.Tools.Tickets;
using Agents.Tools.Tickets.Api;

namespace Agents.Tools.Tests;

public sealed class TicketsFixture : IAsyncLifetime
{
    public ToolService<CreateTicket> Service { get; private set; } = null!;

    public async Task InitializeAsync() => Service = await ToolService<CreateTicket>.StartAsync("tickets", sp => sp.MigrateTicketsAsync());

    public async Task DisposeAsync() => await Service.DisposeAsync();
}

[Trait("Category", "Infrastructure")]
public sealed class TicketsTests(TicketsFixture fixture) : IClassFixture<TicketsFixture>
{
    private const string Args = "{\"customerId\":\"C-1001\",\"subject\":\"Password reset e-mail missing\",\"body\":\"The reset e-mail never arrives.\",\"priority\":\"high\"}";

    private ToolService<CreateTicket> Service => fixture.Service;

    [Fact]
    public async Task Creates_an_open_ticket()
    {
        var key = NewKey();

        var result = await Service.SendAsync(ToolService<CreateTicket>.Call("tickets.create", Args, key));

        Assert.True(result.Succeeded, result.Error);
        var ticket = JsonSerializer.Deserialize<TicketOutput>(result.OutputJson!, ToolJson.Options)!;
        Assert.Matches("^T-[0-9]{6}$", ticket.TicketId);
        Assert.Equal("open", ticket.Status);
        Assert.Equal(TicketPriority.High, ticket.Priority);
        Assert.Equal(1, await TicketsWithKeyAsync(key));
    }

    [Fact]
    public async Task Same_key_twice_and_concurrent_duplicates_create_one_ticket()
    {
        var key = NewKey();

        var first = await Service.SendAsync(ToolService<CreateTicket>.Call("tickets.create", Args, key));
        var duplicates = await Task.WhenAll(Enumerable.Range(0, 6)
            .Select(_ => Service.SendAsync(ToolService<CreateTicket>.Call("tickets.create", Args, key))));

        Assert.False(first.Replayed);
        Assert.All(duplicates, d => Assert.True(d is { Succeeded: true, Replayed: true }, d.Error));
        Assert.All(duplicates, d => Assert.Equal(first.OutputJson, d.OutputJson));
        Assert.Equal(1, await TicketsWithKeyAsync(key));
        Assert.Equal(1, await Service.ScalarAsync(
            "SELECT executions FROM tool_ledger WHERE tool = 'tickets.create' AND idempotency_key = @k AND operation = 'execute'", ("k", key)));
    }

    [Fact]
    public async Task Concurrent_first_calls_with_one_key_create_one_ticket()
    {
        var key = NewKey();

        var results = await Task.WhenAll(Enumerable.Range(0, 6)
            .Select(_ => Service.SendAsync(ToolService<CreateTicket>.Call("tickets.create", Args, key))));

        Assert.All(results, r => Assert.True(r.Succeeded, r.Error));
        Assert.Single(results, r => !r.Replayed);
        Assert.Equal(1, await TicketsWithKeyAsync(key));
    }

    [Fact]
    public async Task Same_key_with_different_arguments_is_an_error_and_creates_nothing()
    {
        var key = NewKey();
        await Service.SendAsync(ToolService<CreateTicket>.Call("tickets.create", Args, key));

        var other = await Service.SendAsync(ToolService<CreateTicket>.Call("tickets.create", Args.Replace("high", "low", StringComparison.Ordinal), key));

        Assert.False(other.Succeeded);
        Assert.False(other.Transient);
        Assert.Contains("with different arguments", other.Error, StringComparison.Ordinal);
        Assert.Equal(1, await TicketsWithKeyAsync(key));
    }

    [Fact]
    public async Task Compensation_cancels_the_ticket_exactly_once()
    {
        var key = NewKey();
        var created = await Service.SendAsync(ToolService<CreateTicket>.Call("tickets.create", Args, key));
        var ticketId = JsonSerializer.Deserialize<TicketOutput>(created.OutputJson!, ToolJson.Options)!.TicketId;

        var first = await Service.SendAsync(ToolService<CreateTicket>.Call("tickets.create", "{}", key, compensate: true));
        var second = await Service.SendAsync(ToolService<CreateTicket>.Call("tickets.create", "{}", key, compensate: true));

        Assert.True(first.Succeeded, first.Error);
        var output = JsonSerializer.Deserialize<CompensationOutput>(first.OutputJson!, ToolJson.Options)!;
        Assert.Equal($"Ticket {ticketId} cancelled.", output.Detail);
        Assert.True(second.Replayed);
        Assert.Equal(1, await Service.ScalarAsync("SELECT count(*) FROM tickets WHERE idempotency_key = @k AND status = 'cancelled'", ("k", key)));
        Assert.Equal(1, await Service.ScalarAsync(
            "SELECT executions FROM tool_ledger WHERE tool = 'tickets.create' AND idempotency_key = @k AND operation = 'compensate'", ("k", key)));

        using var http = Service.CreateClient(ToolService<CreateTicket>.Demo);
        var view = await http.GetFromJsonAsync<TicketView>($"/api/tickets/{ticketId}");
        Assert.Equal("cancelled", view!.Status);
    }

    [Fact]
    public async Task Compensating_a_ticket_never_created_is_a_no_op()
    {
        var result = await Service.SendAsync(ToolService<CreateTicket>.Call("tickets.create", "{}", NewKey(), compensate: true));

        Assert.True(result.Succeeded, result.Error);
        Assert.False(JsonSerializer.Deserialize<CompensationOutput>(result.OutputJson!, ToolJson.Options)!.Compensated);
    }

    [Theory]
    [InlineData("{\"customerId\":\"C-1001\",\"subject\":\"Hi\",\"body\":\"x\"}", "$.subject: The field subject must be a string or array type with a minimum length of '3'.")]
    [InlineData("{\"customerId\":\"C-1001\",\"subject\":\"Help\",\"body\":\"x\",\"priority\":\"asap\"}", "$.priority:")]
    [InlineData("{\"customerId\":\"C-1001\",\"subject\":\"Help\"}", "missing required properties including: 'body'")]
    public async Task Invalid_arguments_get_a_precise_error(string args, string expected)
    {
        var result = await Service.SendAsync(ToolService<CreateTicket>.Call("tickets.create", args));

        Assert.False(result.Succeeded);
        Assert.False(result.Transient);
        Assert.StartsWith("Invalid arguments for tool 'tickets.create': ", result.Error, StringComparison.Ordinal);
        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ledger_api_counts_executions_per_key_for_the_callers_tenant_only()
    {
        var key = NewKey();
        await Service.SendAsync(ToolService<CreateTicket>.Call("tickets.create", Args, key));
        await Service.SendAsync(ToolService<CreateTicket>.Call("tickets.create", Args, key));

        using var demo = Service.CreateClient(ToolService<CreateTicket>.Demo);
        using var other = Service.CreateClient(new AgentPrincipal("acme", "wile", []));
        using var anonymous = Service.CreateClient(null);
        var rows = await demo.GetFromJsonAsync<List<ToolLedgerRecord>>($"/api/tool-ledger?tool=tickets.create&idempotencyKey={key}");
        var foreign = await other.GetFromJsonAsync<List<ToolLedgerRecord>>($"/api/tool-ledger?idempotencyKey={key}");
        using var unauthenticated = await anonymous.GetAsync(new Uri($"/api/tool-ledger?idempotencyKey={key}", UriKind.Relative));

        var row = Assert.Single(rows!);
        Assert.Equal(("execute", "succeeded", 1, 1), (row.Operation, row.Status, row.Executions, row.Replays));
        Assert.Empty(foreign!);
        Assert.Equal(HttpStatusCode.Unauthorized, unauthenticated.StatusCode);
    }

    [Fact]
    public async Task Another_tenants_ticket_answers_404()
    {
        var created = await Service.SendAsync(ToolService<CreateTicket>.Call("tickets.create", Args, NewKey()));
        var ticketId = JsonSerializer.Deserialize<TicketOutput>(created.OutputJson!, ToolJson.Options)!.TicketId;

        using var other = Service.CreateClient(new AgentPrincipal("acme", "wile", []));
        using var response = await other.GetAsync(new Uri($"/api/tickets/{ticketId}", UriKind.Relative));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("https://agents.dev/problems/not-found", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private static string NewKey() => "ticket-" + Guid.NewGuid().ToString("N");

    private Task<long> TicketsWithKeyAsync(string key) =>
        Service.ScalarAsync("SELECT count(*) FROM tickets WHERE idempotency_key = @k", ("k", key));
}

[Trait("Category", "Infrastructure")]
public sealed class TicketsHealthTests : ServiceHealthTests<CreateTicket>
{
    protected override ServiceFactory<CreateTicket> CreateFactory(string postgres, string rabbitMq) => new(new Dictionary<string, string?>
    {
        ["ConnectionStrings:Postgres"] = postgres,
        ["ConnectionStrings:RabbitMq"] = rabbitMq,
        ["Messaging:QueuePrefix"] = TestInfrastructure.UniqueName("health"),
        ["Identity:SigningKey"] = ToolService<CreateTicket>.SigningKey,
    });
}
