namespace Agents.EndToEnd.Tests;

[CollectionDefinition(Name)]
public sealed class PlatformCollection : ICollectionFixture<PlatformFixture>
{
    public const string Name = "platform";
}

[CollectionDefinition(Name)]
public sealed class FaultyToolsCollection : ICollectionFixture<FaultyToolsFixture>
{
    public const string Name = "faulty-tools";
}

/// <summary>
/// The platform with failing tools: <c>crm.lookup-customer</c> fails transiently twice then works;
/// <c>web.fetch</c> always fails; the tool-gateway opens a circuit after three consecutive failures
/// (so the two transient failures of the first tool do not open its circuit); tool-mcp also runs a fake MCP server
/// (<c>fake</c>) whose tools crash mid-call on demand. Tenant <c>demo</c> operates the registry (its admins reset
/// circuits), as in development.
/// </summary>
public sealed class FaultyToolsFixture : PlatformFixture
{
    /// <summary>The state folder of the fake MCP server <c>fake</c> of tool-mcp.</summary>
    public string FakeMcpServerState { get; } = Directory.CreateTempSubdirectory("agents-e2e-fake-mcp-").FullName;

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Directory.Delete(FakeMcpServerState, recursive: true);
    }

    protected override void Configure(string service, IDictionary<string, string> settings)
    {
        base.Configure(service, settings);
        switch (service)
        {
            case "tool-crm":
                settings["Tools__FaultInjection__crm.lookup-customer__FailFirst"] = "2";
                break;
            case "tool-web":
                settings["Tools__FaultInjection__web.fetch__AlwaysFail"] = "true";
                break;
            case "tool-mcp":
                // A FAKE MCP server (the MCP host tests' own, linked into this project): its tools exit mid-call
                // whenever their arguments say {"crash": true}, which no real server does on demand.
                settings["Mcp__Servers__fake__Command"] = "node";
                settings["Mcp__Servers__fake__Arguments__0"] = Path.Combine(AppContext.BaseDirectory, "Mcp", "fake-mcp-server.mjs");
                settings["Mcp__Servers__fake__Arguments__1"] = FakeMcpServerState;
                break;
            case "toolgateway":
                settings["ToolGateway__CircuitFailureThreshold"] = "3";
                settings["ToolGateway__CircuitBreakDuration"] = "00:05:00";
                settings["ToolGateway__OperatorTenants__0"] = "demo";
                break;
        }
    }
}
