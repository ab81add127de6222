using Agents.Memory;
using Agents.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddMemory();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapMemoryApi();
app.Run();

/// <summary>Entry point, visible to integration tests.</summary>
public partial class Program;
