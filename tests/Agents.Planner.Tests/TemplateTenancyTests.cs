using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Agents.Contracts;
using Agents.Planner.Data;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using static Agents.Planner.Tests.TestData;

namespace Agents.Planner.Tests;

/// <summary>Templates belong to a tenant: built-ins are everyone's and read-only; a tenant's own are invisible to others.</summary>
[Collection(PlannerCollection.Name)]
[Trait("Category", "Infrastructure")]
public sealed class TemplateTenancyTests(PlannerFixture fixture)
{
    private static object Lookup(string description) => new
    {
        description,
        parameters = new[] { new { name = "customerId", required = true } },
        steps = new object[] { new { id = "lookup", kind = "tool", tool = "crm.lookup-customer", arguments = new { customerId = "{{params.customerId}}" } } },
    };

    [Fact]
    public async Task Built_in_templates_are_listed_for_every_tenant_and_cannot_be_changed_or_retired()
    {
        using var admin = fixture.CreateClient(Principal(Tenant(), "admin"));

        var list = await admin.GetFromJsonAsync<JsonElement>(new Uri("/api/templates", UriKind.Relative));
        using var overwrite = await admin.PutAsJsonAsync(new Uri("/api/templates/triage-customer-issue", UriKind.Relative), Lookup("mine now"));
        using var retire = await admin.DeleteAsync(new Uri("/api/templates/triage-customer-issue", UriKind.Relative));

        var triage = Assert.Single(list.EnumerateArray(), t => t.GetProperty("name").GetString() == "triage-customer-issue");
        Assert.True(triage.GetProperty("builtIn").GetBoolean());
        Assert.Equal(HttpStatusCode.Conflict, overwrite.StatusCode);
        Assert.Contains("built-in", (await overwrite.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Conflict, retire.StatusCode);
        var (created, _) = await fixture.PlanAsync(Template(Principal(Tenant()), "triage-customer-issue", new() { ["customerId"] = "C-1" }));
        Assert.Equal("Workflow template 'triage-customer-issue' version 1.", created!.Plan.Rationale);
    }

    [Fact]
    public async Task A_tenants_template_is_invisible_to_another_tenant_whose_own_write_never_replaces_it()
    {
        var name = "own-" + Guid.NewGuid().ToString("N")[..8];
        var (first, second) = (Tenant(), Tenant());
        using var firstAdmin = fixture.CreateClient(Principal(first, "admin"));
        using var secondAdmin = fixture.CreateClient(Principal(second, "admin"));
        var uri = new Uri($"/api/templates/{name}", UriKind.Relative);
        using var stored = await firstAdmin.PutAsJsonAsync(uri, Lookup("first tenant's"));
        Assert.Equal(HttpStatusCode.OK, stored.StatusCode);

        using var read = await secondAdmin.GetAsync(uri);
        var list = await secondAdmin.GetFromJsonAsync<JsonElement>(new Uri("/api/templates", UriKind.Relative));
        var (_, rejected) = await fixture.PlanAsync(Template(Principal(second), name, new() { ["customerId"] = "C-1" }));
        var validation = await ValidateAsync(new ValidateTaskDefinition(Principal(second), name, new Dictionary<string, string> { ["customerId"] = "C-1" }, null, null));
        Assert.Equal(HttpStatusCode.NotFound, read.StatusCode);
        Assert.DoesNotContain(list.EnumerateArray(), t => t.GetProperty("name").GetString() == name);
        Assert.Contains("unknown template", rejected!.Reason, StringComparison.Ordinal);
        Assert.False(validation.Valid);

        using var secondWrite = await secondAdmin.PutAsJsonAsync(uri, Lookup("second tenant's"));
        Assert.Equal(1, (await secondWrite.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("version").GetInt32());
        var firstsOwn = await firstAdmin.GetFromJsonAsync<JsonElement>(uri);
        Assert.Equal("first tenant's", firstsOwn.GetProperty("description").GetString());
        Assert.False(firstsOwn.GetProperty("builtIn").GetBoolean());
        var (created, _) = await fixture.PlanAsync(Template(Principal(first), name, new() { ["customerId"] = "C-1" }));
        Assert.Equal($"Workflow template '{name}' version 1.", created!.Plan.Rationale);
    }

    [Fact]
    public async Task A_retired_template_is_no_longer_read_or_run_and_its_versions_are_kept()
    {
        var name = "old-" + Guid.NewGuid().ToString("N")[..8];
        var tenant = Tenant();
        using var admin = fixture.CreateClient(Principal(tenant, "admin"));
        using var user = fixture.CreateClient(Principal(tenant, "user"));
        var uri = new Uri($"/api/templates/{name}", UriKind.Relative);
        (await admin.PutAsJsonAsync(uri, Lookup("v1"))).Dispose();

        using var notAdmin = await user.DeleteAsync(uri);
        using var retired = await admin.DeleteAsync(uri);
        using var read = await admin.GetAsync(uri);
        using var again = await admin.DeleteAsync(uri);
        var (_, rejected) = await fixture.PlanAsync(Template(Principal(tenant), name, new() { ["customerId"] = "C-1" }));

        Assert.Equal(HttpStatusCode.Forbidden, notAdmin.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, retired.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, read.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
        Assert.Contains("unknown template", rejected!.Reason, StringComparison.Ordinal);
        await using (var scope = fixture.Services.CreateAsyncScope())
        {
            var versions = await scope.ServiceProvider.GetRequiredService<PlannerDbContext>().Templates
                .Where(t => t.TenantId == tenant && t.Name == name).OrderBy(t => t.Version).Select(t => t.Retired).ToListAsync();
            Assert.Equal([false, true], versions);
        }

        using var revived = await admin.PutAsJsonAsync(uri, Lookup("v3"));
        Assert.Equal(3, (await revived.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("version").GetInt32());
    }

    private static string Tenant() => "tenant-" + Guid.NewGuid().ToString("N")[..8];

    private async Task<TaskDefinitionValidation> ValidateAsync(ValidateTaskDefinition request)
    {
        var client = fixture.Bus.CreateRequestClient<ValidateTaskDefinition>(RequestTimeout.After(s: 30));
        return (await client.GetResponse<TaskDefinitionValidation>(request)).Message;
    }
}
