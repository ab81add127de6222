using Agents.Gateway;
using Agents.ServiceDefaults;

if (Extensions.TryRunCommand(args))
{
    return;
}

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddGateway();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapGateway();
app.Run();

/// <summary>Entry point, visible to integration tests.</summary>
public partial class Program;
