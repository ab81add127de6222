using Agents.Memory;
using Agents.Messaging.DeadLetters;
using Agents.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddMemory();

var app = builder.Build();
if (await app.MigrateIfRequestedAsync(args, (services, ct) => services.MigrateMemoryDatabaseAsync(ct)))
{
    return;
}

app.MapDefaultEndpoints();
app.MapMemoryApi();
app.MapDeadLetterApi();
await app.RunAsync();

/// <summary>Entry point, visible to integration tests.</summary>
public partial class Program;
