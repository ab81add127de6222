using Agents.Gateway;
using Agents.Gateway.ApiReference;
using Agents.Gateway.WebConsole;
using Agents.Gateway.DeadLetters;
using Agents.Gateway.Mcp;
using Agents.ServiceDefaults;

if (Extensions.TryRunCommand(args))
{
    return;
}

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddGateway();
builder.AddGatewayMcp();
builder.AddApiReference();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapGateway();
app.MapGatewayMcp();
app.MapApiReference();
app.MapDeadLetters();
app.MapConsole();
app.Run();

/// <summary>Entry point, visible to integration tests.</summary>
public partial class Program;
