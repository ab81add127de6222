using Agents.Contracts;
using Agents.Governance.Policies;
using Agents.Messaging;
using Agents.Messaging.Retention;
using Agents.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Agents.Governance.Tests;

[Trait("Category", "Infrastructure")]
public sealed class BookkeepingRetentionTests(SharedGovernanceHost shared) : IClassFixture<SharedGovernanceHost>
{
    private GovernanceHost Host => shared.Host;

    [Fact]
    public async Task Old_duplicate_keys_and_model_reservations_are_removed_and_the_records_are_kept()
    {
        var tenant = TestInfrastructure.UniqueName("keep");
        await Host.PutPolicyAsync(tenant, PolicyDefaults.DemoPolicyJson);
        var user = new AgentPrincipal(tenant, "u1", ["agent-user"]);
        var oldTask = Guid.NewGuid();
        var newTask = Guid.NewGuid();
        Assert.True((await Host.ReserveAsync(new ReserveModelBudget(oldTask, new ModelCallRef("m", 1), user, 10, 10, 0m, 0m))).Granted);
        Assert.True((await Host.ReserveAsync(new ReserveModelBudget(newTask, new ModelCallRef("m", 1), user, 10, 10, 0m, 0m))).Granted);
        var oldKey = $"usage:{Guid.NewGuid()}";
        var newKey = $"usage:{Guid.NewGuid()}";
        var longAgo = DateTimeOffset.UtcNow - TimeSpan.FromDays(31);
        await Host.QueryAsync(async db =>
        {
            db.ProcessedMessages.AddRange(
                new Data.ProcessedMessage { Key = oldKey, ProcessedAt = longAgo },
                new Data.ProcessedMessage { Key = newKey, ProcessedAt = DateTimeOffset.UtcNow });
            await db.SaveChangesAsync();
            return await db.Database.ExecuteSqlInterpolatedAsync($"UPDATE model_reservations SET reserved_at = {longAgo} WHERE task_id = {oldTask}");
        });
        var auditBefore = await Host.QueryAsync(db => db.Audit.CountAsync(e => e.TenantId == tenant));

        var pass = await Host.Services.GetRequiredService<MessagingRetentionService<Data.GovernanceDbContext>>().CleanupAsync(CancellationToken.None);

        Assert.True(pass.Other["processed_messages"] >= 1);
        Assert.True(pass.Other["model_reservations"] >= 1);
        Assert.False(await Host.QueryAsync(db => db.ProcessedMessages.AnyAsync(p => p.Key == oldKey)));
        Assert.True(await Host.QueryAsync(db => db.ProcessedMessages.AnyAsync(p => p.Key == newKey)));
        Assert.False(await Host.QueryAsync(db => db.ModelReservations.AnyAsync(r => r.TaskId == oldTask)));
        Assert.True(await Host.QueryAsync(db => db.ModelReservations.AnyAsync(r => r.TaskId == newTask)));

        // The ledger and the audit trail are records: untouched.
        Assert.True(await Host.QueryAsync(db => db.Tasks.AnyAsync(t => t.TaskId == oldTask && t.Tokens == 20)));
        Assert.Equal(auditBefore, await Host.QueryAsync(db => db.Audit.CountAsync(e => e.TenantId == tenant)));
    }

    [Theory]
    [InlineData("processed_messages; DROP TABLE audit_entries", "processed_at", 1)]
    [InlineData("processed_messages", "Processed At", 1)]
    [InlineData("processed_messages", "processed_at", 0)]
    public void A_retention_rule_with_an_unsafe_name_or_no_window_is_refused(string table, string column, int days)
    {
        Assert.NotNull(new RetentionRule(table, column, TimeSpan.FromDays(days)).Problem);
        Assert.Null(new RetentionRule("processed_messages", "processed_at", TimeSpan.FromDays(1)).Problem);
    }
}
