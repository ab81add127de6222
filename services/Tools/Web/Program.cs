using Agents.Messaging.DeadLetters;
using Agents.ServiceDefaults;
using Agents.Tools.Web;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddAgentsDatabase();
builder.AddWebTool();

var app = builder.Build();
if (args.Contains("migrate"))
{
    await app.Services.MigrateWebAsync();
    return;
}

app.MapDefaultEndpoints();
app.MapDeadLetterApi();
app.MapKnowledgeBase();
app.Run();
