using Agents.ServiceDefaults.Messaging;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Agents.ServiceDefaults.Tests;

[Trait("Category", "Unit")]
public sealed class UsageTelemetryTests
{
    [Theory]
    [InlineData(null, false)]
    [InlineData("false", false)]
    [InlineData("true", true)]
    public void Masstransit_usage_telemetry_is_off_unless_the_setting_turns_it_on(string? setting, bool enabled)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration["ConnectionStrings:RabbitMq"] = "amqp://agents:agents@127.0.0.1:5672/";
        if (setting is not null)
        {
            builder.Configuration["Messaging:UsageTelemetry"] = setting;
        }

        builder.AddAgentsBus();
        using var services = builder.Services.BuildServiceProvider();

        Assert.Equal(enabled, services.GetRequiredService<IOptions<UsageTelemetryOptions>>().Value.Enabled);
    }
}
