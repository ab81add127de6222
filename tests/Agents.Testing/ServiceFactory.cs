using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Agents.Testing;

/// <summary>
/// Starts a service's real host in memory (its HTTP pipeline through the test server) against the
/// real RabbitMQ and PostgreSQL, with settings overridden per test.
/// </summary>
public class ServiceFactory<TProgram>(IReadOnlyDictionary<string, string?> settings) : WebApplicationFactory<TProgram>
    where TProgram : class
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        foreach (var (key, value) in settings)
        {
            builder.UseSetting(key, value);
        }
    }
}
