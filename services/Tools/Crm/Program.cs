using Agents.Messaging.DeadLetters;
using Agents.ServiceDefaults;
using Agents.Tools.Crm;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddAgentsDatabase();
builder.AddCrmTool();

var app = builder.Build();
if (await app.MigrateIfRequestedAsync(args, (services, ct) => services.MigrateCrmAsync(ct)))
{
    return;
}

app.MapDefaultEndpoints();
app.MapDeadLetterApi();
app.Run();
