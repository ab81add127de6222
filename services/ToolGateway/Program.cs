using Agents.Messaging.DeadLetters;
using Agents.ServiceDefaults;
using Agents.ToolGateway;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddToolGateway();

var app = builder.Build();
if (await app.MigrateIfRequestedAsync(args, (services, ct) => services.MigrateToolGatewayDatabaseAsync(ct)))
{
    return;
}

app.MapDefaultEndpoints();
app.MapToolGatewayApi();
app.MapDeadLetterApi();
await app.RunAsync();

/// <summary>Entry point, visible to integration tests.</summary>
public partial class Program;
