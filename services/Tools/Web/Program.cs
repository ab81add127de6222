using Agents.Messaging.DeadLetters;
using Agents.ServiceDefaults;
using Agents.Tools.Web;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddAgentsDatabase();
builder.AddWebTool();

var app = builder.Build();
if (await app.MigrateIfRequestedAsync(args, (services, ct) => services.MigrateWebAsync(ct)))
{
    return;
}

app.MapDefaultEndpoints();
app.MapDeadLetterApi();
app.MapKnowledgeBase();
app.Run();
