using System.Diagnostics;
using Agents.ServiceDefaults.Configuration;
using Agents.ServiceDefaults.Health;
using Agents.ServiceDefaults.Http;
using Agents.ServiceDefaults.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Agents.ServiceDefaults;

/// <summary>The defaults every Agents service starts with.</summary>
public static class ServiceDefaultsExtensions
{
    /// <summary>Tag of the checks behind <c>/health/ready</c>.</summary>
    public const string ReadyTag = "ready";

    /// <summary>Tag of the checks behind <c>/health/live</c>.</summary>
    public const string LiveTag = "live";

    /// <summary>Adds telemetry, health checks, problem details, the OpenAPI document and a clock.</summary>
    public static IHostApplicationBuilder AddServiceDefaults(this IHostApplicationBuilder builder)
    {
        builder.AddAgentsTelemetry();
        builder.Services.AddHealthChecks().AddCheck("self", () => HealthCheckResult.Healthy(), [LiveTag]);
        builder.Services.AddProblemDetails(options => options.CustomizeProblemDetails = context =>
        {
            context.ProblemDetails.Instance ??= context.HttpContext.Request.Path;
            context.ProblemDetails.Extensions.TryAdd("traceId", Activity.Current?.TraceId.ToString() ?? context.HttpContext.TraceIdentifier);
        });
        builder.Services.AddSingleton<IProblemDetailsWriter, ProblemJsonWriter>();
        builder.Services.AddExceptionHandler<BadRequestExceptionHandler>();
        builder.Services.AddExceptionHandler<UnavailableExceptionHandler>();
        builder.Services.Configure<KestrelServerOptions>(RequestSizeLimits.ConfigureKestrel);
        builder.Services.AddTransient<Microsoft.AspNetCore.Hosting.IStartupFilter, KestrelRejections.TrackingStartupFilter>();

        // Binding failures become exceptions in every environment, so the handler above answers them with the
        // parameter named (without it, production answers a bare 400 and development an unhandled 500).
        builder.Services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.AddApiDocument();
        return builder;
    }

    /// <summary>
    /// Adds the service's PostgreSQL database: a validated connection string, a pooled
    /// <see cref="NpgsqlDataSource"/> with tracing, and a readiness check.
    /// </summary>
    public static IHostApplicationBuilder AddAgentsDatabase(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<DatabaseOptions>()
            .Configure<IConfiguration>((o, c) => o.ConnectionString = c[ConnectionStrings.PostgresKey])
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<DatabaseOptions>, DatabaseOptionsValidator>();
        builder.Services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<DatabaseOptions>>().Value;
            var dataSource = new NpgsqlDataSourceBuilder(WithPoolDefaults(options.ConnectionString!));
            dataSource.ConfigureTracing(_ => { });
            return dataSource.Build();
        });
        builder.Services.AddHealthChecks()
            .AddCheck<PostgresHealthCheck>("postgres", HealthStatus.Unhealthy, [ReadyTag], TimeSpan.FromSeconds(5));
        return builder;
    }

    /// <summary>
    /// The connection string with the defaults of a service that runs many short transactions over a pool: pooled
    /// connections are not reset when returned (the reset is a round trip per message, and no code keeps session state),
    /// and statements run again and again are prepared on their connection (PostgreSQL parses and plans them once).
    /// A setting given in the connection string wins.
    /// </summary>
    public static string WithPoolDefaults(string connectionString)
    {
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString };
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (!given.ContainsKey("No Reset On Close") && !given.ContainsKey("NoResetOnClose"))
        {
            builder.NoResetOnClose = true;
        }

        if (!given.ContainsKey("Max Auto Prepare") && !given.ContainsKey("MaxAutoPrepare"))
        {
            builder.MaxAutoPrepare = 64;
            if (!given.ContainsKey("Auto Prepare Min Usages") && !given.ContainsKey("AutoPrepareMinUsages"))
            {
                builder.AutoPrepareMinUsages = 2;
            }
        }

        return builder.ConnectionString;
    }

    /// <summary>
    /// Maps <c>/health/live</c>, <c>/health/ready</c> and the Prometheus scrape endpoint <c>/metrics</c>, turns errors into
    /// RFC 7807 problem details and checks every JSON request body (<see cref="JsonRequestGuard"/>); serves the service's
    /// OpenAPI document (<see cref="ApiDocument"/>).
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseMiddleware<RequestSizeLimits>();
        app.UseMiddleware<JsonRequestGuard>();
        app.MapApiDocument();
        app.MapHealthChecks("/health/live", new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(LiveTag),
            ResponseWriter = HealthResponse.WriteAsync,
        });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(ReadyTag),
            ResponseWriter = HealthResponse.WriteAsync,
            ResultStatusCodes =
            {
                [HealthStatus.Healthy] = StatusCodes.Status200OK,
                [HealthStatus.Degraded] = StatusCodes.Status503ServiceUnavailable,
                [HealthStatus.Unhealthy] = StatusCodes.Status503ServiceUnavailable,
            },
        });
        app.MapPrometheusEndpoint();
        return app;
    }
}
