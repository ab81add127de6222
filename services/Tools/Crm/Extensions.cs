using Agents.Messaging.Data;
using Agents.ServiceDefaults.Identity;
using Agents.ServiceDefaults.Messaging;
using Agents.Tools.Crm.Data;
using Agents.Tools.Sdk.Hosting;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Agents.Tools.Crm;

internal static class Extensions
{
    public static IHostApplicationBuilder AddCrmTool(this IHostApplicationBuilder builder)
    {
        builder.Services.AddDbContext<CrmDbContext>((sp, options) => options.UseNpgsql(sp.GetRequiredService<NpgsqlDataSource>()));
        builder.AddPrincipalSigning();
        builder.AddAgentsTool<LookupCustomer>();
        builder.AddAgentsBus(x => x.AddAgentsTools());
        return builder;
    }

    /// <summary>The <c>migrate</c> step: the SDK's ledger, then the CRM tables and their seed.</summary>
    public static async Task MigrateCrmAsync(this IServiceProvider services, CancellationToken cancellationToken = default)
    {
        await services.MigrateAgentsToolLedgerAsync(cancellationToken);
        await using var scope = services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<CrmDbContext>().Database.ApplyMigrationsAsync(cancellationToken);
    }
}
