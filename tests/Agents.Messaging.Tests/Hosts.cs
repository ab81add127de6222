using Agents.Contracts;
using Agents.Messaging.DeadLetters;
using Agents.Messaging.TestHost;
using Agents.ServiceDefaults.Identity;
using Agents.ServiceDefaults.Messaging;
using Agents.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Agents.Messaging.Tests;

/// <summary>Hosts the shared test host does not cover: a web host with the dead-letter API, a host with the timer saga.</summary>
internal static class Hosts
{
    private const string SigningKey = "messaging-tests-signing-key-0123456789abcdef";

    /// <summary>A minimal web application (in-memory test server) with the poison consumer and <c>MapDeadLetterApi()</c>.</summary>
    public static WebApplication DeadLetterApi(TestEnvironment env)
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        Configure(builder, env.Prefix);
        builder.Configuration["Identity:SigningKey"] = SigningKey;
        builder.AddPrincipalSigning();
        builder.Services.AddSingleton<PoisonSwitch>();
        builder.Services.AddDbContext<TestDbContext>(o => o.UseNpgsql(env.Database.ConnectionString));
        builder.AddAgentsBus(x =>
        {
            x.AddConsumer<PoisonConsumer>();
            x.AddAgentsDurableMessaging<TestDbContext>(o => o.SweepInterval = TimeSpan.FromMilliseconds(200));
        });
        var app = builder.Build();
        app.MapDeadLetterApi();
        return app;
    }

    /// <summary>A client of <paramref name="app"/> that calls as <paramref name="principal"/> (signed as the gateway would).</summary>
    public static HttpClient ClientFor(WebApplication app, AgentPrincipal principal)
    {
        var client = app.GetTestClient();
        client.DefaultRequestHeaders.Add(PrincipalSigner.HeaderName, app.Services.GetRequiredService<PrincipalSigner>().Sign(principal));
        return client;
    }

    /// <summary>A host with the timer saga (state-machine <c>Schedule</c>) on the durable scheduler.</summary>
    public static IHost Timer(string postgres, string prefix)
    {
        var builder = Host.CreateApplicationBuilder();
        Configure(builder, prefix);

        // One message at a time, in the queue's order: the timer test publishes a last message to know the ones before it were handled.
        builder.Configuration["Messaging:PrefetchCount"] = "1";
        builder.Services.AddDbContext<TimerDbContext>(o => o.UseNpgsql(postgres));
        builder.AddAgentsBus(x =>
        {
            x.AddSagaStateMachine<TimerStateMachine, TimerState>().AgentsRepository<TimerDbContext, TimerState>();
            x.AddAgentsDurableMessaging<TimerDbContext>(o => o.SweepInterval = TimeSpan.FromMilliseconds(200));
        });
        return builder.Build();
    }

    private static void Configure(IHostApplicationBuilder builder, string prefix)
    {
        builder.Configuration["ConnectionStrings:RabbitMq"] = TestInfrastructure.RabbitMq;
        builder.Configuration["Messaging:QueuePrefix"] = prefix;
        builder.Configuration["Messaging:Retry:Limit"] = "1";
        builder.Configuration["Messaging:Retry:MinInterval"] = "00:00:00.050";
        builder.Configuration["Messaging:Retry:MaxInterval"] = "00:00:00.100";
        builder.Configuration["Messaging:Retry:IntervalDelta"] = "00:00:00.010";
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSingleton(TimeProvider.System);
    }
}
