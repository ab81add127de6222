using Agents.ToolGateway;
using Agents.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddToolGateway();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapToolGatewayApi();
app.Run();

/// <summary>Entry point, visible to integration tests.</summary>
public partial class Program;
