using MassTransit.Logging;
using MassTransit.Monitoring;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Agents.ServiceDefaults.Telemetry;

/// <summary>OpenTelemetry traces, metrics and logs for every service.</summary>
public static class TelemetryExtensions
{
    /// <summary>Prefix of every activity source and meter the project's own code creates.</summary>
    public const string SourcePrefix = "Agents";

    /// <summary>Path of the Prometheus scrape endpoint every service serves.</summary>
    public const string MetricsPath = "/metrics";

    /// <summary>
    /// Adds OpenTelemetry with ASP.NET Core, HttpClient, MassTransit, Npgsql and runtime
    /// instrumentation. Metrics are served for Prometheus at <see cref="MetricsPath"/> (mapped by
    /// <see cref="MapPrometheusEndpoint"/>); everything is also exported over OTLP when
    /// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set. Without an exporter, spans are still created for their trace ids
    /// (they cross RabbitMQ in the messages' headers and name a request in its problem details) but not recorded: no
    /// attributes, events or timings are collected only to be dropped, which on a busy service is a few percent of its
    /// CPU. Log records go to OpenTelemetry only when they are exported.
    /// </summary>
    public static IHostApplicationBuilder AddAgentsTelemetry(this IHostApplicationBuilder builder)
    {
        var exporting = !string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        if (exporting)
        {
            builder.Logging.AddOpenTelemetry(logging =>
            {
                logging.IncludeFormattedMessage = true;
                logging.IncludeScopes = true;
            });
        }

        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(builder.Environment.ApplicationName))
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter(InstrumentationOptions.MeterName)
                .AddMeter(SourcePrefix + ".*")
                .AddPrometheusExporter())
            .WithTracing(tracing =>
            {
                tracing
                    .AddSource(DiagnosticHeaders.DefaultListenerName)
                    .AddSource(SourcePrefix + ".*")
                    .AddAspNetCoreInstrumentation(o => o.Filter = IsNotHealthProbe)
                    .AddHttpClientInstrumentation()
                    .AddNpgsql();
                if (!exporting)
                {
                    // Dropped spans are created for propagation only (trace ids, no data).
                    tracing.SetSampler(new AlwaysOffSampler());
                }
            });

        if (exporting)
        {
            telemetry.UseOtlpExporter();
        }

        return builder;
    }

    /// <summary>Maps the Prometheus scrape endpoint (<see cref="MetricsPath"/>, text exposition format).</summary>
    public static IEndpointRouteBuilder MapPrometheusEndpoint(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPrometheusScrapingEndpoint(MetricsPath);
        return endpoints;
    }

    // Probes and scrapes come every few seconds: spans for them would drown the traces of real work.
    private static bool IsNotHealthProbe(HttpContext context) =>
        !context.Request.Path.StartsWithSegments("/health", StringComparison.OrdinalIgnoreCase)
        && !context.Request.Path.StartsWithSegments(MetricsPath, StringComparison.OrdinalIgnoreCase);
}
