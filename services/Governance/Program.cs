using Agents.Governance;
using Agents.Messaging.DeadLetters;
using Agents.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
if (await Extensions.TryRunMigrateCommandAsync(args, builder.Configuration))
{
    return;
}

builder.AddServiceDefaults();
builder.AddGovernance();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapGovernanceApi();
app.MapDeadLetterApi();
await app.RunAsync();

/// <summary>Entry point, visible to integration tests.</summary>
public partial class Program;
