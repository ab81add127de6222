namespace Agents.Messaging.Outbox;

/// <summary>
/// In-process wake-up of the delivery service's sweep: raised when a committed row needs the sweep
/// before its next regular look (a scheduled row due sooner). Unscheduled rows do not need it: they
/// are sent from memory right after their commit.
/// </summary>
public sealed class OutboxSignal : IDisposable
{
    private readonly SemaphoreSlim _signal = new(0, 1);

    /// <summary>Wakes the sweep (a no-op while a wake-up is already pending).</summary>
    public void Notify()
    {
        try
        {
            if (_signal.CurrentCount == 0)
            {
                _signal.Release();
            }
        }
        catch (SemaphoreFullException)
        {
            // A concurrent Notify won the race; one pending wake-up is enough.
        }
    }

    /// <summary>Waits for a signal or until <paramref name="timeout"/> has passed on <paramref name="timeProvider"/>.</summary>
    public async Task WaitAsync(TimeSpan timeout, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var signalled = _signal.WaitAsync(linked.Token);
        var delay = Task.Delay(timeout, timeProvider, linked.Token);
        await Task.WhenAny(signalled, delay);
        await linked.CancelAsync();
        try
        {
            await Task.WhenAll(signalled, delay);
        }
        catch (OperationCanceledException)
        {
            // The losing wait was cancelled.
        }

        cancellationToken.ThrowIfCancellationRequested();
    }

    /// <inheritdoc />
    public void Dispose() => _signal.Dispose();
}
