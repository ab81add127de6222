using Agents.Executor;
using Agents.Messaging.DeadLetters;
using Agents.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddExecutor();

var app = builder.Build();
if (await app.MigrateIfRequestedAsync(args, (services, ct) => services.MigrateExecutorDatabaseAsync(ct)))
{
    return;
}

app.MapDefaultEndpoints();
app.MapExecutorApi();
app.MapDeadLetterApi();
app.Run();

/// <summary>Entry point, visible to integration tests.</summary>
public partial class Program;
