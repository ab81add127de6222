using Agents.Messaging.DeadLetters;
using Agents.ServiceDefaults;
using Agents.Tools.Mcp;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddAgentsDatabase();
builder.AddMcpTools();

var app = builder.Build();
if (await app.MigrateIfRequestedAsync(args, (services, ct) => services.MigrateMcpAsync(ct)))
{
    return;
}

app.MapDefaultEndpoints();
app.MapDeadLetterApi();
app.Run();
