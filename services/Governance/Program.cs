using Agents.Governance;
using Agents.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddGovernance();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapGovernanceApi();
app.Run();

/// <summary>Entry point, visible to integration tests.</summary>
public partial class Program;
