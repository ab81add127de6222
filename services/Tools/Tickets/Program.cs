using Agents.Messaging.DeadLetters;
using Agents.ServiceDefaults;
using Agents.Tools.Tickets;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddAgentsDatabase();
builder.AddTicketsTool();

var app = builder.Build();
if (await app.MigrateIfRequestedAsync(args, (services, ct) => services.MigrateTicketsAsync(ct)))
{
    return;
}

app.MapDefaultEndpoints();
app.MapDeadLetterApi();
app.MapTicketsApi();
app.Run();
