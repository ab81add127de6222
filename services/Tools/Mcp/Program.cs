using Agents.Messaging.DeadLetters;
using Agents.ServiceDefaults;
using Agents.Tools.Mcp;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddAgentsDatabase();
builder.AddMcpTools();

var app = builder.Build();
if (args.Contains("migrate"))
{
    await app.Services.MigrateMcpAsync();
    return;
}

app.MapDefaultEndpoints();
app.MapDeadLetterApi();
app.Run();
