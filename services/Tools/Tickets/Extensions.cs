using Agents.Messaging.Data;
using Agents.ServiceDefaults.Identity;
using Agents.ServiceDefaults.Messaging;
using Agents.Tools.Sdk.Hosting;
using Agents.Tools.Tickets.Api;
using Agents.Tools.Tickets.Data;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Agents.Tools.Tickets;

internal static class Extensions
{
    public static IHostApplicationBuilder AddTicketsTool(this IHostApplicationBuilder builder)
    {
        builder.AddPrincipalSigning();
        builder.Services.AddDbContext<TicketsDbContext>((sp, options) => options.UseNpgsql(sp.GetRequiredService<NpgsqlDataSource>()));
        builder.AddAgentsTool<CreateTicket>();
        builder.AddAgentsBus(x => x.AddAgentsTools());
        return builder;
    }

    /// <summary>Read-only APIs (signed principal, tenant-scoped): tickets and the tool's ledger.</summary>
    public static WebApplication MapTicketsApi(this WebApplication app)
    {
        app.MapTicketEndpoints();
        app.MapAgentsToolLedgerApi();
        return app;
    }

    /// <summary>The <c>migrate</c> step: the SDK's ledger, then the tickets table.</summary>
    public static async Task MigrateTicketsAsync(this IServiceProvider services, CancellationToken cancellationToken = default)
    {
        await services.MigrateAgentsToolLedgerAsync(cancellationToken);
        await using var scope = services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<TicketsDbContext>().Database.ApplyMigrationsAsync(cancellationToken);
    }
}
