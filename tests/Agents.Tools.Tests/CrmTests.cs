using System.Text.Json;
using Agents.Contracts;
using Agents.Testing;
using Agents.Tools.Crm;
using Agents.Tools.Sdk.Schema;

namespace Agents.Tools.Tests;

public sealed class CrmFixture : IAsyncLifetime
{
    public ToolService<LookupCustomer> Service { get; private set; } = null!;

    public async Task InitializeAsync() => Service = await ToolService<LookupCustomer>.StartAsync("crm", sp => sp.MigrateCrmAsync());

    public async Task DisposeAsync() => await Service.DisposeAsync();
}

[Trait("Category", "Infrastructure")]
public sealed class CrmTests(CrmFixture fixture) : IClassFixture<CrmFixture>
{
    private ToolService<LookupCustomer> Service => fixture.Service;

    [Fact]
    public async Task Finds_a_seeded_customer_of_the_callers_tenant()
    {
        var result = await Service.SendAsync(ToolService<LookupCustomer>.Call("crm.lookup-customer", "{\"customerId\":\"C-1001\"}"));

        Assert.True(result.Succeeded, result.Error);
        var customer = JsonSerializer.Deserialize<CustomerRecord>(result.OutputJson!, ToolJson.Options)!;
        Assert.Equal("Ada Lovelace", customer.Name);
        Assert.Equal("enterprise", customer.Plan);
        Assert.Contains("Cannot reset password after SSO change", customer.OpenIssues);
    }

    [Fact]
    public async Task Tenants_are_isolated()
    {
        var acme = new AgentPrincipal("acme", "wile", ["support"]);
        var stranger = new AgentPrincipal("stranger", "eve", ["support"]);

        var acmeResult = await Service.SendAsync(ToolService<LookupCustomer>.Call("crm.lookup-customer", "{\"customerId\":\"C-1001\"}", principal: acme));
        var acmeAskingForDemo = await Service.SendAsync(ToolService<LookupCustomer>.Call("crm.lookup-customer", "{\"customerId\":\"C-1002\"}", principal: acme));
        var strangerResult = await Service.SendAsync(ToolService<LookupCustomer>.Call("crm.lookup-customer", "{\"customerId\":\"C-1001\"}", principal: stranger));

        Assert.Equal("Wile E. Coyote", JsonSerializer.Deserialize<CustomerRecord>(acmeResult.OutputJson!, ToolJson.Options)!.Name);
        Assert.False(acmeAskingForDemo.Succeeded);
        Assert.Equal("No customer 'C-1002' in tenant 'acme'.", acmeAskingForDemo.Error);
        Assert.False(strangerResult.Succeeded);
        Assert.Null(strangerResult.OutputJson);
    }

    [Fact]
    public async Task Unknown_customer_is_a_permanent_failure_with_a_clear_message()
    {
        var result = await Service.SendAsync(ToolService<LookupCustomer>.Call("crm.lookup-customer", "{\"customerId\":\"C-9999\"}"));

        Assert.False(result.Succeeded);
        Assert.False(result.Transient);
        Assert.Equal("No customer 'C-9999' in tenant 'demo'.", result.Error);
    }

    [Fact]
    public async Task Malformed_customer_id_is_refused_before_any_lookup()
    {
        var call = ToolService<LookupCustomer>.Call("crm.lookup-customer", "{\"customerId\":\"1001; drop table\"}");

        var result = await Service.SendAsync(call);

        Assert.False(result.Succeeded);
        Assert.Equal("Invalid arguments for tool 'crm.lookup-customer': $.customerId: customerId must look like 'C-1001'.", result.Error);
        Assert.Equal(0, await Service.ScalarAsync("SELECT count(*) FROM tool_ledger WHERE idempotency_key = @k", ("k", call.IdempotencyKey)));
    }
}

[Trait("Category", "Infrastructure")]
public sealed class CrmHealthTests : ServiceHealthTests<LookupCustomer>;
