using Agents.Messaging.DeadLetters;
using Agents.Planner;
using Agents.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddPlanner();

var app = builder.Build();
if (await app.MigrateIfRequestedAsync(args, (services, ct) => services.MigratePlannerDatabaseAsync(ct)))
{
    return;
}

app.MapDefaultEndpoints();
app.MapPlannerApi();
app.MapDeadLetterApi();
app.Run();

/// <summary>Entry point, visible to integration tests.</summary>
public partial class Program;
