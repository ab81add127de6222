using Agents.Messaging.Data;
using Agents.Messaging.Sagas;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace Agents.Messaging.Tests;

public sealed record StartTimer(Guid TimerId);

public sealed record StopTimer(Guid TimerId);

public sealed record TimerExpired(Guid TimerId);

/// <summary>A saga that waits for a timeout scheduled with the state machine's <c>Schedule</c>.</summary>
public sealed class TimerState : SagaStateMachineInstance
{
    public Guid CorrelationId { get; set; }

    public string CurrentState { get; set; } = string.Empty;

    public Guid? TimeoutTokenId { get; set; }

    public DateTime StartedAt { get; set; }

    public DateTime? ExpiredAt { get; set; }
}

public sealed class TimerStateMachine : MassTransitStateMachine<TimerState>
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    public TimerStateMachine()
    {
        InstanceState(x => x.CurrentState);
        Event(() => Started, e => e.CorrelateById(m => m.Message.TimerId));
        Event(() => Stopped, e => e.CorrelateById(m => m.Message.TimerId));
        Schedule(() => Expired, x => x.TimeoutTokenId, s =>
        {
            s.Delay = Timeout;
            s.Received = e => e.CorrelateById(m => m.Message.TimerId);
        });

        Initially(
            When(Started)
                .Then(c => c.Saga.StartedAt = DateTime.UtcNow)
                .Schedule(Expired, c => new TimerExpired(c.Saga.CorrelationId))
                .TransitionTo(Waiting));
        During(Waiting,
            When(Expired!.Received)
                .Then(c => c.Saga.ExpiredAt = DateTime.UtcNow)
                .TransitionTo(TimedOut),
            When(Stopped)
                .Unschedule(Expired)
                .TransitionTo(Cancelled));
    }

    public State Waiting { get; private set; } = null!;

    public State TimedOut { get; private set; } = null!;

    public State Cancelled { get; private set; } = null!;

    public Event<StartTimer> Started { get; private set; } = null!;

    public Event<StopTimer> Stopped { get; private set; } = null!;

    public Schedule<TimerState, TimerExpired> Expired { get; private set; } = null!;
}

public sealed class TimerDbContext(DbContextOptions<TimerDbContext> options) : DbContext(options)
{
    public DbSet<TimerState> Timers => Set<TimerState>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.AddAgentsMessaging();
        var timer = modelBuilder.Entity<TimerState>();
        timer.ToTable("timer_state");
        timer.HasKey(x => x.CorrelationId);
        timer.HasXminConcurrencyToken();
    }
}
