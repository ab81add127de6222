using System.Diagnostics;
using Agents.ServiceDefaults.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Trace;

namespace Agents.ServiceDefaults.Tests;

[Trait("Category", "Unit")]
public sealed class TracingTests
{
    [Fact]
    public void Spans_carry_trace_ids_always_and_are_recorded_only_when_exported()
    {
        using var source = new ActivitySource("Agents.TracingTests." + Guid.NewGuid().ToString("N"));

        // No OTLP endpoint: a span exists (its trace id propagates) but records nothing.
        using (var services = Build(endpoint: null))
        {
            using var span = source.StartActivity("work");
            Assert.NotNull(span);
            Assert.NotEqual(default, span.TraceId);
            Assert.False(span.IsAllDataRequested);
            Assert.False(span.Recorded);
        }

        // With an endpoint the same span is sampled and recorded (the exporter is never reached in this test).
        using (var services = Build(endpoint: "http://127.0.0.1:1"))
        {
            using var span = source.StartActivity("work");
            Assert.NotNull(span);
            Assert.True(span.IsAllDataRequested);
            Assert.True(span.Recorded);
        }
    }

    private static ServiceProvider Build(string? endpoint)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint;
        builder.AddAgentsTelemetry();
        var services = builder.Services.BuildServiceProvider();
        _ = services.GetRequiredService<TracerProvider>();
        return services;
    }
}
