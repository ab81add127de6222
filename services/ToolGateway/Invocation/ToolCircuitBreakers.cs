using System.Collections.Concurrent;
using Agents.ToolGateway.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Agents.ToolGateway.Invocation;

/// <summary>
/// The circuits of all tools in this gateway instance. A circuit is loaded from the database on
/// first use (so an open circuit stays open across a restart) and written back on every change
/// (so the registry listing shows it). With several instances each keeps its own circuit; the row
/// shows the latest change made by any of them.
/// </summary>
internal sealed class ToolCircuitBreakers(
    IOptions<ToolGatewayOptions> options,
    TimeProvider time,
    IServiceScopeFactory scopes,
    ILogger<ToolCircuitBreakers> logger)
{
    private readonly ConcurrentDictionary<string, ToolCircuit> circuits = new(StringComparer.Ordinal);

    public async Task<ToolCircuit> GetAsync(string tool, CancellationToken cancellationToken)
    {
        if (circuits.TryGetValue(tool, out var circuit))
        {
            return circuit;
        }

        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ToolGatewayDbContext>();
        var row = await db.Circuits.AsNoTracking().SingleOrDefaultAsync(c => c.Tool == tool, cancellationToken);
        var initial = row is null ? null : new CircuitSnapshot(row.State, row.ConsecutiveFailures, row.OpenedAt, row.OpenUntil);
        var value = options.Value;
        return circuits.GetOrAdd(tool, _ => new ToolCircuit(value.CircuitFailureThreshold, value.CircuitBreakDuration, time, initial));
    }

    /// <summary>The in-memory state of <paramref name="tool"/>'s circuit, when this instance has used it.</summary>
    public CircuitSnapshot? Peek(string tool) => circuits.TryGetValue(tool, out var circuit) ? circuit.Snapshot() : null;

    /// <summary>Applies a <see cref="Agents.Contracts.ToolCircuitReset"/> to this instance's circuit, when it has loaded it.</summary>
    public void Apply(Agents.Contracts.ToolCircuitReset reset)
    {
        if (circuits.TryGetValue(reset.Tool, out var circuit))
        {
            var snapshot = circuit.Reset(reset.Closed);
            logger.LogInformation("Circuit of tool {Tool} is {State} now ({Why} by {By}).", reset.Tool, snapshot.State, reset.Closed ? "reset" : "announced again", reset.By);
        }
    }

    /// <summary>The state of every circuit this instance has used (for the circuit-state gauge).</summary>
    public IEnumerable<(string Tool, CircuitState State)> States()
    {
        foreach (var (tool, circuit) in circuits)
        {
            yield return (tool, circuit.Snapshot().State);
        }
    }

    /// <summary>Writes a changed state; a failure to write is logged, never fails the call (the row is for visibility).</summary>
    public async Task PersistAsync(string tool, CircuitSnapshot snapshot, CancellationToken cancellationToken)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<ToolGatewayDbContext>();
            var row = await db.Circuits.SingleOrDefaultAsync(c => c.Tool == tool, cancellationToken);
            if (row is null)
            {
                row = new CircuitStateRecord { Tool = tool, UpdatedBy = Environment.MachineName };
                db.Circuits.Add(row);
            }

            row.State = snapshot.State;
            row.ConsecutiveFailures = snapshot.ConsecutiveFailures;
            row.OpenedAt = snapshot.OpenedAt;
            row.OpenUntil = snapshot.OpenUntil;
            row.UpdatedAt = time.GetUtcNow();
            row.UpdatedBy = Environment.MachineName;
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is DbUpdateException or Npgsql.NpgsqlException or InvalidOperationException)
        {
            logger.LogWarning(ex, "Could not persist the circuit state of tool {Tool} ({State}).", tool, snapshot.State);
        }
    }
}
