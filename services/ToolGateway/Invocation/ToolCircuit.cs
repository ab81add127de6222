using Agents.ToolGateway.Data;

namespace Agents.ToolGateway.Invocation;

/// <summary>What a circuit lets a caller do right now.</summary>
public enum CircuitPermit
{
    /// <summary>Closed: call the tool.</summary>
    Call,

    /// <summary>Half-open: this caller makes the one trial call.</summary>
    Trial,

    /// <summary>Open (or a trial is already running): do not call the tool.</summary>
    Refused,
}

/// <summary>A circuit's state at one moment, for the registry listing and the database.</summary>
public sealed record CircuitSnapshot(CircuitState State, int ConsecutiveFailures, DateTimeOffset? OpenedAt, DateTimeOffset? OpenUntil);

/// <summary>
/// The circuit breaker of one tool, in memory. <see cref="CircuitFailureThreshold"/> consecutive
/// failures (transient errors or timeouts) open it for the break duration; after that one trial call
/// is let through (half-open): success closes it, failure opens it again. Any answer from the tool
/// that is not a transient failure counts as a success. Time comes from <see cref="TimeProvider"/>.
/// </summary>
public sealed class ToolCircuit(int failureThreshold, TimeSpan breakDuration, TimeProvider time, CircuitSnapshot? initial = null)
{
    private readonly Lock gate = new();
    private CircuitState state = initial?.State == CircuitState.Closed || initial is null ? CircuitState.Closed : CircuitState.Open;
    private int consecutiveFailures = initial?.ConsecutiveFailures ?? 0;
    private DateTimeOffset? openedAt = initial?.OpenedAt;

    // A circuit restored as half-open gets its trial at once.
    private DateTimeOffset? openUntil = initial?.State == CircuitState.HalfOpen ? time.GetUtcNow() : initial?.OpenUntil;
    private bool trialRunning;

    public int CircuitFailureThreshold => failureThreshold;

    /// <summary>The state now (an open circuit whose break has ended reads as half-open).</summary>
    public CircuitSnapshot Snapshot()
    {
        lock (gate)
        {
            return SnapshotLocked();
        }
    }

    /// <summary>Asks to call the tool now.</summary>
    public CircuitPermit TryAcquire()
    {
        lock (gate)
        {
            if (state == CircuitState.Closed)
            {
                return CircuitPermit.Call;
            }

            if (time.GetUtcNow() < openUntil || trialRunning)
            {
                return CircuitPermit.Refused;
            }

            state = CircuitState.HalfOpen;
            trialRunning = true;
            return CircuitPermit.Trial;
        }
    }

    /// <summary>Records that the tool answered (anything but a transient failure); returns the new state when it changed.</summary>
    public CircuitSnapshot? RecordSuccess(CircuitPermit permit)
    {
        lock (gate)
        {
            if (permit == CircuitPermit.Trial)
            {
                trialRunning = false;
                state = CircuitState.Closed;
                consecutiveFailures = 0;
                openedAt = null;
                openUntil = null;
                return SnapshotLocked();
            }

            // A call that started before the circuit opened does not close it.
            if (state != CircuitState.Closed || consecutiveFailures == 0)
            {
                return null;
            }

            consecutiveFailures = 0;
            return SnapshotLocked();
        }
    }

    /// <summary>Records a transient failure or timeout; returns the new state (it always changes).</summary>
    public CircuitSnapshot RecordFailure(CircuitPermit permit)
    {
        lock (gate)
        {
            consecutiveFailures++;
            if (permit == CircuitPermit.Trial)
            {
                trialRunning = false;
                Open();
            }
            else if (state == CircuitState.Closed && consecutiveFailures >= failureThreshold)
            {
                Open();
            }

            return SnapshotLocked();
        }
    }

    /// <summary>Gives the trial back when the trial call ended without an answer either way (cancelled).</summary>
    public void Release(CircuitPermit permit)
    {
        if (permit != CircuitPermit.Trial)
        {
            return;
        }

        lock (gate)
        {
            if (trialRunning && state == CircuitState.HalfOpen)
            {
                trialRunning = false;
            }
        }
    }

    /// <summary>
    /// Applies a <see cref="Agents.Contracts.ToolCircuitReset"/>: <paramref name="close"/> closes the circuit and forgets
    /// its failures; otherwise an open circuit's break ends now, so the next call is the trial. Returns the new state.
    /// </summary>
    public CircuitSnapshot Reset(bool close)
    {
        lock (gate)
        {
            if (close)
            {
                state = CircuitState.Closed;
                consecutiveFailures = 0;
                openedAt = null;
                openUntil = null;
                trialRunning = false;
            }
            else if (state == CircuitState.Open && time.GetUtcNow() < openUntil)
            {
                openUntil = time.GetUtcNow();
            }

            return SnapshotLocked();
        }
    }

    private void Open()
    {
        var now = time.GetUtcNow();
        state = CircuitState.Open;
        openedAt = now;
        openUntil = now + breakDuration;
    }

    private CircuitSnapshot SnapshotLocked()
    {
        var shown = state == CircuitState.Open && time.GetUtcNow() >= openUntil ? CircuitState.HalfOpen : state;
        return new CircuitSnapshot(shown, consecutiveFailures, openedAt, openUntil);
    }
}
