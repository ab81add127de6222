namespace Agents.Tools.Crm.Data;

/// <summary>
/// Demo customers, inserted by the migration. Tenant <c>demo</c> is the one the README's demo uses;
/// tenant <c>acme</c> reuses the id C-1001 for a different person, to show tenant isolation.
/// </summary>
internal static class CustomerSeed
{
    public static Customer[] All { get; } =
    [
        Make("demo", "C-1001", "Ada Lovelace", "ada@example.com", "enterprise", "eu", new DateOnly(2021, 3, 14), "Cannot reset password after SSO change", "Invoice shows duplicate seat charge"),
        Make("demo", "C-1002", "Grace Hopper", "grace@example.com", "pro", "us", new DateOnly(2022, 7, 1), "Refund for annual plan downgrade"),
        Make("demo", "C-1003", "Alan Turing", "alan@example.com", "free", "eu", new DateOnly(2023, 1, 9)),
        Make("demo", "C-1004", "Katherine Johnson", "katherine@example.com", "pro", "us", new DateOnly(2020, 11, 23), "Dashboard unavailable during outage"),
        Make("demo", "C-1005", "Edsger Dijkstra", "edsger@example.com", "enterprise", "eu", new DateOnly(2019, 5, 30), "Password reset e-mail never arrives", "Export times out", "Wrong VAT on invoice"),
        Make("acme", "C-1001", "Wile E. Coyote", "wile@acme.example", "pro", "us", new DateOnly(2018, 4, 1), "Rocket skates recalled"),
        Make("acme", "C-2001", "Road Runner", "beep@acme.example", "free", "us", new DateOnly(2018, 4, 2)),
    ];

    private static Customer Make(string tenant, string id, string name, string email, string plan, string region, DateOnly since, params string[] issues) => new()
    {
        TenantId = tenant,
        Id = id,
        Name = name,
        Email = email,
        Plan = plan,
        Region = region,
        CustomerSince = since,
        OpenIssues = [.. issues],
    };
}
