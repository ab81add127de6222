using Agents.Messaging.Data;
using Agents.Messaging.Sagas;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace Agents.Messaging.TestHost;

/// <summary>A consumer's or a request's database effect; deliberately without a unique key, so only the inbox prevents duplicates.</summary>
public sealed class Effect
{
    public long Id { get; set; }

    public Guid Key { get; set; }

    public string Kind { get; set; } = string.Empty;

    public DateTime At { get; set; }
}

public sealed class CounterState : SagaStateMachineInstance
{
    public Guid CorrelationId { get; set; }

    public string CurrentState { get; set; } = string.Empty;

    public int Count { get; set; }
}

public sealed class TestDbContext(DbContextOptions<TestDbContext> options) : DbContext(options)
{
    public DbSet<Effect> Effects => Set<Effect>();

    public DbSet<CounterState> Counters => Set<CounterState>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.AddAgentsMessaging();
        modelBuilder.Entity<Effect>().ToTable("effects");
        var counter = modelBuilder.Entity<CounterState>();
        counter.ToTable("counter_state");
        counter.HasKey(x => x.CorrelationId);
        counter.HasXminConcurrencyToken();
    }
}
