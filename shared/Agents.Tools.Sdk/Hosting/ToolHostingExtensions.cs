using Agents.Messaging.Data;
using Agents.Messaging.DeadLetters;
using Agents.ServiceDefaults;
using Agents.ServiceDefaults.Identity;
using Agents.Tools.Sdk.Execution;
using Agents.Tools.Sdk.Ledger;
using Agents.Tools.Sdk.Runtime;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace Agents.Tools.Sdk.Hosting;

/// <summary>Registration of tools in a tool host.</summary>
public static class ToolHostingExtensions
{
    /// <summary>
    /// Registers the tool <typeparamref name="TTool"/>: its metadata and schemas (checked now), the class
    /// itself (scoped, so it can take a DbContext), the ledger, the announcer and the validated
    /// <see cref="ToolHostOptions"/>. Call it before <c>builder.AddAgentsBus(x =&gt; x.AddAgentsTools())</c>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The class is not a valid tool, or a tool with the same name is already registered.</exception>
    public static IHostApplicationBuilder AddAgentsTool<TTool>(this IHostApplicationBuilder builder)
        where TTool : class
    {
        var definition = ToolDefinition.For<TTool>();
        var existing = builder.Services
            .Where(d => d.ServiceType == typeof(ToolDefinition))
            .Select(d => d.ImplementationInstance)
            .OfType<ToolDefinition>()
            .ToList();
        if (existing.Any(d => d.Name == definition.Name))
        {
            throw new InvalidOperationException($"A tool named '{definition.Name}' is already registered in this host.");
        }

        builder.Services.AddSingleton(definition);
        builder.Services.TryAddScoped<TTool>();
        builder.Services.TryAddScoped(typeof(ToolInvoker<,,>).MakeGenericType(typeof(TTool), definition.InputType, definition.OutputType));
        AddCore(builder.Services);
        return builder;
    }

    /// <summary>
    /// Inside <c>builder.AddAgentsBus(...)</c>: a consumer for every tool registered so far with
    /// <see cref="AddAgentsTool{TTool}"/>, each on its queue <c>ToolEndpoints.QueueName(name, Messaging:QueuePrefix)</c>.
    /// </summary>
    public static IBusRegistrationConfigurator AddAgentsTools(this IBusRegistrationConfigurator bus)
    {
        var registry = bus
            .Where(d => d.ServiceType == typeof(ToolConsumerRegistry))
            .Select(d => d.ImplementationInstance)
            .OfType<ToolConsumerRegistry>()
            .FirstOrDefault() ?? throw new InvalidOperationException("No tool is registered: call builder.AddAgentsTool<T>() before builder.AddAgentsBus(x => x.AddAgentsTools()).");
        foreach (var definition in bus.Select(d => d.ImplementationInstance).OfType<ToolDefinition>().ToList())
        {
            Type[] arguments = [definition.ToolType, definition.InputType, definition.OutputType];
            bus.AddConsumer(
                typeof(ExecuteToolConsumer<,,>).MakeGenericType(arguments),
                typeof(ExecuteToolConsumerDefinition<,,>).MakeGenericType(arguments));
            registry.Add(definition.Name);
        }

        // Every instance of every tool host must hear a catalog's request, so each gets a queue of its own (deleted when
        // it stops) bound to the request's exchange: a fan-out, not a competing consumer on one shared queue.
        bus.AddConsumer<RequestToolAnnouncementsConsumer>().Endpoint(e =>
        {
            e.InstanceId = "-" + Guid.NewGuid().ToString("N")[..12];
            e.Temporary = true;
        });
        return bus;
    }

    /// <summary>
    /// Registers the <see cref="RuntimeToolCatalog"/>, for tools defined at run time by schema documents and
    /// a delegate (<see cref="RuntimeTool"/>), with the ledger, the announcer and the validated
    /// <see cref="ToolHostOptions"/>. Call it before <c>builder.AddAgentsBus(x =&gt; x.AddAgentsTools())</c>;
    /// a host may have class tools too.
    /// </summary>
    public static IHostApplicationBuilder AddAgentsRuntimeTools(this IHostApplicationBuilder builder)
    {
        builder.Services.TryAddSingleton(sp => new RuntimeToolCatalog(
            sp,
            sp.GetRequiredService<ToolCallRunner>(),
            sp.GetRequiredService<ToolAnnouncer>(),
            sp.GetServices<ToolDefinition>(),
            sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<Agents.ServiceDefaults.Messaging.BusOptions>>(),
            sp.GetRequiredService<Microsoft.Extensions.Logging.ILoggerFactory>()));
        AddCore(builder.Services);
        return builder;
    }

    /// <summary>Applies the SDK's ledger migrations to the host's database (the host's <c>migrate</c> step).</summary>
    public static async Task MigrateAgentsToolLedgerAsync(this IServiceProvider services, CancellationToken cancellationToken = default)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ToolLedgerDbContext>();
        await db.Database.ApplyMigrationsAsync(cancellationToken);
    }

    /// <summary>
    /// Maps <c>GET /api/tool-ledger</c> (read-only, requires the gateway's signed principal, scoped to
    /// its tenant): ledger rows filtered by <c>tool</c>, <c>idempotencyKey</c> and/or <c>taskId</c>,
    /// with how many times each operation actually ran. Needs <c>builder.AddPrincipalSigning()</c>.
    /// </summary>
    public static RouteGroupBuilder MapAgentsToolLedgerApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/tool-ledger").RequireAgentPrincipal();
        group.MapGet("/", async (HttpContext http, ToolLedgerDbContext db, string? tool, string? idempotencyKey, Guid? taskId, CancellationToken cancellationToken) =>
        {
            var principal = http.GetPrincipal();
            if (tool is null && idempotencyKey is null && taskId is null)
            {
                return Results.Problem(
                    statusCode: StatusCodes.Status400BadRequest,
                    title: "A filter is required",
                    detail: "Filter by at least one of 'tool', 'idempotencyKey' or 'taskId'.",
                    type: ProblemTypes.Validation);
            }

            var query = db.Entries.AsNoTracking().Where(e => e.TenantId == principal.TenantId);
            if (tool is not null)
            {
                query = query.Where(e => e.Tool == tool);
            }

            if (idempotencyKey is not null)
            {
                query = query.Where(e => e.IdempotencyKey == idempotencyKey);
            }

            if (taskId is { } task)
            {
                query = query.Where(e => e.TaskId == task);
            }

            var rows = await query
                .OrderBy(e => e.CreatedAt)
                .Take(500)
                .Select(e => new ToolLedgerRecord(
                    e.Tool, e.IdempotencyKey, e.Operation, e.Status, e.Attempts, e.Executions, e.Replays,
                    e.TaskId, e.StepId, e.Error, e.CreatedAt, e.CompletedAt))
                .ToListAsync(cancellationToken);
            return Results.Ok(rows);
        });
        return group;
    }

    private static void AddCore(IServiceCollection services)
    {
        if (services.Any(d => d.ServiceType == typeof(ToolLedger)))
        {
            return;
        }

        services.AddOptions<ToolHostOptions>()
            .BindConfiguration(ToolHostOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<ToolHostOptions>, ToolHostOptionsValidator>();
        services.AddSingleton<ToolLedger>();

        // The host's queues' dead letters, for its dead-letter API (app.MapDeadLetterApi(); the gateway lists them).
        services.AddAgentsDeadLetters();
        services.AddSingleton<FaultInjector>();
        services.AddSingleton<ToolCallRunner>();
        services.AddSingleton(new ToolConsumerRegistry());
        services.AddDbContext<ToolLedgerDbContext>((sp, options) => options.UseNpgsql(
            sp.GetRequiredService<NpgsqlDataSource>(),
            npgsql => npgsql.MigrationsHistoryTable(ToolLedgerDbContext.HistoryTable)));
        services.AddSingleton<ToolAnnouncer>();
        services.AddHostedService(sp => sp.GetRequiredService<ToolAnnouncer>());
    }
}

/// <summary>One ledger row as the ledger API shows it (no arguments or outputs).</summary>
/// <param name="Tool">The tool.</param>
/// <param name="IdempotencyKey">The key.</param>
/// <param name="Operation"><c>execute</c> or <c>compensate</c>.</param>
/// <param name="Status">The ledger status.</param>
/// <param name="Attempts">Times the SDK started the operation (including injected faults).</param>
/// <param name="Executions">Times the tool's code ran for this key.</param>
/// <param name="Replays">Times a stored result was returned.</param>
/// <param name="TaskId">The task of the first call.</param>
/// <param name="StepId">The step of the first call.</param>
/// <param name="Error">The last error, if any.</param>
/// <param name="CreatedAt">When the key was first seen.</param>
/// <param name="CompletedAt">When the operation last completed.</param>
public sealed record ToolLedgerRecord(
    string Tool,
    string IdempotencyKey,
    string Operation,
    string Status,
    int Attempts,
    int Executions,
    int Replays,
    Guid TaskId,
    string StepId,
    string? Error,
    DateTimeOffset CreatedAt,
    DateTimeOffset? CompletedAt);
