using Agents.Messaging.DeadLetters;
using Agents.ServiceDefaults;
using Agents.Tools.Sdk.Hosting;
using Agents.Tools.Sample;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddAgentsDatabase();
builder.AddSampleTool();

var app = builder.Build();
if (args.Contains("migrate"))
{
    await app.Services.MigrateAgentsToolLedgerAsync();
    return;
}

app.MapDefaultEndpoints();
app.MapDeadLetterApi();
app.Run();
