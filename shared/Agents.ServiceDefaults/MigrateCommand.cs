using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Agents.ServiceDefaults;

/// <summary>
/// The <c>migrate</c> command every service and tool host understands (<c>dotnet Agents.X.dll migrate</c>, which
/// <c>dev.sh</c>, compose and the Kubernetes jobs run before the services): applies the service's migrations and its
/// seed data, then exits instead of serving.
/// </summary>
public static class MigrateCommand
{
    /// <summary>The command-line argument.</summary>
    public const string Name = "migrate";

    /// <summary>True when the command line asks for the migration (any letter case).</summary>
    public static bool IsRequested(string[] args) => args.Contains(Name, StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Runs <paramref name="migrate"/> and returns true when <paramref name="args"/> asks for it (the caller then
    /// returns from <c>Main</c>); returns false otherwise.
    /// </summary>
    public static async Task<bool> MigrateIfRequestedAsync(this WebApplication app, string[] args, Func<IServiceProvider, CancellationToken, Task> migrate)
    {
        if (!IsRequested(args))
        {
            return false;
        }

        await migrate(app.Services, CancellationToken.None);
        app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(MigrateCommand).FullName!)
            .LogInformation("{Application}: database migrated.", app.Environment.ApplicationName);
        return true;
    }
}
