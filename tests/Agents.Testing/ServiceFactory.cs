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

/// <summary>How a service's host fails to start (invalid settings).</summary>
public static class StartupFailure
{
    /// <summary>
    /// The exception the host built by <paramref name="create"/> fails to start with. WebApplicationFactory has a race
    /// when the program's start fails: now and then its deferred host is disposed before it reports the failure, and an
    /// <see cref="ObjectDisposedException"/> comes instead of the program's own exception; the start is then tried again
    /// with a fresh factory (twice at most).
    /// </summary>
    public static async Task<TException> OfAsync<TException, TProgram>(Func<WebApplicationFactory<TProgram>> create)
        where TException : Exception
        where TProgram : class
    {
        for (var attempt = 1; ; attempt++)
        {
            await using var factory = create();
            try
            {
                _ = factory.Services;
            }
            catch (TException expected)
            {
                return expected;
            }
            catch (ObjectDisposedException) when (attempt < 3)
            {
                continue;
            }

            throw new Xunit.Sdk.XunitException($"The host started; expected it to fail with {typeof(TException).Name}.");
        }
    }
}
