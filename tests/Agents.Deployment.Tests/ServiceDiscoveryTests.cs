using Agents.Deployment.Tests.Infrastructure;

namespace Agents.Deployment.Tests;

[Trait("Category", "Unit")]
public sealed class ServiceDiscoveryTests
{
    [Fact]
    public void Discovers_every_runnable_host_under_services()
    {
        var names = ServiceCatalog.Hosts.Select(h => h.Name).ToList();

        // The six core services exist on main; tools are added as they appear (services/Tools/<Name>).
        Assert.Superset(new HashSet<string> { "gateway", "executor", "planner", "toolgateway", "memory", "governance" }, names.ToHashSet());
        Assert.Equal(names.Count, names.Distinct().Count());
    }

    [Fact]
    public void Derives_required_keys_from_appsettings()
    {
        var executor = ServiceCatalog.Hosts.Single(h => h.Name == "executor");
        var gateway = ServiceCatalog.Hosts.Single(h => h.Name == "gateway");

        Assert.Contains("ConnectionStrings__Postgres", executor.RequiredKeys);
        Assert.Contains("ConnectionStrings__RabbitMq", executor.RequiredKeys);
        Assert.Contains("Urls", executor.RequiredKeys);
        Assert.Contains("Identity__SigningKey", executor.RequiredKeys);
        Assert.True(executor.OwnsDatabase);
        Assert.Equal("agents_executor", executor.Database);

        Assert.False(gateway.OwnsDatabase);
        Assert.Contains("ReverseProxy__Clusters__executor__Destinations__executor-1__Address", gateway.RequiredKeys);
    }

    [Fact]
    public void Tool_projects_are_named_tool_dash_name_and_marked_as_tools()
    {
        var root = Directory.CreateTempSubdirectory("agents-discovery-");
        try
        {
            var services = Directory.CreateDirectory(Path.Combine(root.FullName, "services"));
            var tool = Directory.CreateDirectory(Path.Combine(services.FullName, "Tools", "Weather"));
            File.WriteAllText(Path.Combine(tool.FullName, "Agents.Tools.Weather.csproj"), "<Project Sdk=\"Microsoft.NET.Sdk.Web\" />");
            File.WriteAllText(Path.Combine(tool.FullName, "appsettings.json"),
                """{ "Urls": "http://127.0.0.1:5299", "ConnectionStrings": { "Postgres": "Host=127.0.0.1;Database=agents_tool_weather" }, "Weather": { "Api": "https://api.example.com/" } }""");
            File.WriteAllText(Path.Combine(tool.FullName, "deploy.required-keys"), "# keys a container must set\nWeather:ApiKey\n");
            var library = Directory.CreateDirectory(Path.Combine(services.FullName, "Tools", "Shared"));
            File.WriteAllText(Path.Combine(library.FullName, "Agents.Tools.Shared.csproj"), "<Project Sdk=\"Microsoft.NET.Sdk\" />");

            var host = Assert.Single(ServiceCatalog.Discover(services.FullName));

            Assert.Equal("tool-weather", host.Name);
            Assert.True(host.IsTool);
            Assert.Equal("services/Tools/Weather/Agents.Tools.Weather.csproj", host.ProjectPath);
            Assert.Equal("agents_tool_weather", host.Database);
            Assert.Equal(
                ["ConnectionStrings__Postgres", "HostOptions__ShutdownTimeout", "Identity__SigningKey", "OTEL_EXPORTER_OTLP_ENDPOINT", "Urls", "Weather__ApiKey"],
                host.RequiredKeys);
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }
}
