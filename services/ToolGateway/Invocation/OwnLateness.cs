namespace Agents.ToolGateway.Invocation;

/// <summary>
/// How far behind this process's own timers run. A probe asks to be woken every <see cref="Interval"/> and records how
/// much later than asked each wake-up came. On a starved machine (more work than cores) every timer and continuation of
/// this process waits its turn, the tool request's timeout and the handling of the tool's answer included, and so do the
/// services the call passes through; a tool call that times out then says more about the machine than about the tool.
/// <see cref="ToolCallPipeline"/> does not count such a timeout against the tool's circuit (it is still a timeout, and
/// retried as one). The lateness of this process is what the gateway can measure; where the tool runs on the same
/// machine it stands for the machine's.
/// </summary>
internal sealed class OwnLateness(TimeProvider time) : BackgroundService
{
    /// <summary>How often the probe asks to be woken.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// The share of a timed-out attempt's time that this process's timers must have been behind for the timeout to be
    /// laid at the machine's door: half. Measured here (2 cores): a test run keeping both cores busy left the probe
    /// behind for 17 % of the time; a machine with far more runnable threads than cores keeps every wake-up waiting for
    /// hundreds of milliseconds, most of the time.
    /// </summary>
    public const double StarvedShare = 0.5;

    // Wake-ups kept: about thirteen minutes of them at one per Interval, longer than an attempt lasts with the default
    // ToolGateway:MaxToolTimeout (two minutes); wake-ups older than the oldest kept count as on time.
    private const int Capacity = 8192;

    private readonly Lock gate = new();
    private readonly long[] wokeAt = new long[Capacity];
    private readonly long[] late = new long[Capacity];
    private int next;
    private int count;
    private long pendingDue;

    /// <summary>A point in time on this probe's clock, to ask <see cref="Since"/> about later.</summary>
    public long Now() => time.GetTimestamp();

    /// <summary>
    /// How far behind this process's timers were, in total, between <paramref name="start"/> (from <see cref="Now"/>)
    /// and now: the late part of every wake-up since, and how overdue the pending one is.
    /// </summary>
    public TimeSpan Since(long start)
    {
        var now = time.GetTimestamp();
        long total = 0;
        lock (gate)
        {
            if (pendingDue != 0 && now > pendingDue)
            {
                total += now - Math.Max(pendingDue, start);
            }

            for (var i = 0; i < count; i++)
            {
                var slot = (next - 1 - i + Capacity) % Capacity;
                if (wokeAt[slot] <= start)
                {
                    break;
                }

                // A late wake-up that was due before the start counts only from the start.
                total += Math.Min(late[slot], wokeAt[slot] - start);
            }
        }

        return TimeSpan.FromSeconds((double)total / time.TimestampFrequency);
    }

    /// <summary>Whether this process was starved for a large share (<see cref="StarvedShare"/>) of the time since <paramref name="start"/>.</summary>
    public bool Starved(long start, out TimeSpan behind)
    {
        behind = Since(start);
        var elapsed = time.GetElapsedTime(start);
        return elapsed > TimeSpan.Zero && behind >= elapsed * StarvedShare;
    }

    /// <summary>Records one wake-up at <paramref name="timestamp"/> that came <paramref name="lateBy"/> later than asked.</summary>
    public void Record(long timestamp, TimeSpan lateBy)
    {
        lock (gate)
        {
            RecordLocked(timestamp, (long)(lateBy.TotalSeconds * time.TimestampFrequency));
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = (long)(Interval.TotalSeconds * time.TimestampFrequency);
        while (!stoppingToken.IsCancellationRequested)
        {
            var due = time.GetTimestamp() + interval;
            lock (gate)
            {
                pendingDue = due;
            }

            try
            {
                await Task.Delay(Interval, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var woke = time.GetTimestamp();
            lock (gate)
            {
                // Recorded and no longer pending at once, so that it is never counted twice or not at all.
                RecordLocked(woke, woke - due);
                pendingDue = 0;
            }
        }
    }

    private void RecordLocked(long timestamp, long lateTicks)
    {
        wokeAt[next] = timestamp;
        late[next] = Math.Max(0, lateTicks);
        next = (next + 1) % Capacity;
        count = Math.Min(count + 1, Capacity);
    }
}
