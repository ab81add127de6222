using Agents.Governance.Api;
using Agents.Governance.Approvals;
using Agents.Governance.Audit;
using Agents.Governance.Consumers;
using Agents.Governance.Data;
using Agents.Governance.Decisions;
using Agents.Governance.Policies;
using Agents.Governance.Telemetry;
using Agents.Governance.Watchdog;
using Agents.Messaging;
using Agents.ServiceDefaults;
using Agents.ServiceDefaults.Configuration;
using Agents.ServiceDefaults.Identity;
using Agents.ServiceDefaults.Messaging;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Agents.Governance;

internal static class Extensions
{
    public static IHostApplicationBuilder AddGovernance(this IHostApplicationBuilder builder)
    {
        builder.AddAgentsDatabase();
        builder.AddPrincipalSigning();
        builder.Services.AddOptions<GovernanceOptions>()
            .BindConfiguration(GovernanceOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddDbContext<GovernanceDbContext>((sp, options) => options.UseNpgsql(sp.GetRequiredService<NpgsqlDataSource>()));
        builder.Services.AddOptions<DurableMessagingOptions>().Configure<IOptions<GovernanceOptions>>((messaging, governance) => messaging
            .Retain("processed_messages", "processed_at", governance.Value.BookkeepingRetention)
            .Retain("model_reservations", "reserved_at", governance.Value.BookkeepingRetention));
        builder.Services.AddScoped<PolicyStore>();
        builder.Services.AddSingleton<PolicyDocumentCache>();
        builder.Services.AddScoped<Ledger>();
        builder.Services.AddScoped<AuditLog>();
        builder.Services.AddScoped<ToolExecutionAudit>();
        builder.Services.AddScoped<AdmissionService>();
        builder.Services.AddScoped<AuthorizationService>();
        builder.Services.AddScoped<UsageRecorder>();
        builder.Services.AddScoped<ModelBudgetService>();
        builder.Services.AddScoped<ApprovalService>();
        builder.Services.AddHostedService<ApprovalSweeper>();
        builder.Services.AddHostedService<GovernanceMonitor>();
        builder.Services.AddScoped<TenantWatchdog>();
        builder.Services.AddHostedService<WatchdogService>();
        builder.Services.AddAgentsQueueMetrics(builder.Configuration);
        builder.AddAgentsBus(x =>
        {
            x.AddConsumer<AdmitTaskConsumer>();
            x.AddConsumer<AuthorizeToolCallConsumer>();
            x.AddConsumer<GetTenantAccessConsumer>();
            x.AddAgentsBatchConsumer<RecordUsageConsumer>();
            x.AddConsumer<ReserveModelBudgetConsumer>();
            x.AddAgentsBatchConsumer<TaskRunFinishedConsumer>();
            x.AddAgentsBatchConsumer<ToolExecutionAuditConsumer>();
            x.AddAgentsDurableMessaging<GovernanceDbContext>();
        });
        return builder;
    }

    public static WebApplication MapGovernanceApi(this WebApplication app)
    {
        var api = app.MapGroup("/api/governance").RequireAgentPrincipal();
        api.MapApprovals();
        api.MapPolicies();
        api.MapUsageAndAudit();
        return app;
    }

    /// <summary>Handles <c>migrate</c>: applies migrations (and the demo seed) and tells the caller to exit.</summary>
    public static async Task<bool> TryRunMigrateCommandAsync(string[] args, IConfiguration configuration)
    {
        if (!MigrateCommand.IsRequested(args))
        {
            return false;
        }

        var connectionString = configuration[ConnectionStrings.PostgresKey];
        if (ConnectionStrings.ValidatePostgres(connectionString) is { } error)
        {
            throw new InvalidOperationException(error);
        }

        await DatabaseMigrator.MigrateAsync(connectionString!, TimeProvider.System);
        Console.WriteLine("Governance database migrated.");
        return true;
    }
}
