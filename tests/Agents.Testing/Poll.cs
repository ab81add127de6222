using Xunit;

namespace Agents.Testing;

/// <summary>
/// Waiting in a test for something the system does on its own (a consumer, a background service, another process):
/// the condition is checked every <c>every</c> (100 ms) until it holds, and the test fails, naming what it waited for,
/// when <c>within</c> (15 s) has passed first. The one polling loop of the tests: a wait that should end on a signal
/// (a message, a span, a row) goes through here rather than a fixed sleep.
/// </summary>
public static class Poll
{
    /// <summary>How long a condition is waited for when the caller does not say.</summary>
    public static readonly TimeSpan DefaultWithin = TimeSpan.FromSeconds(15);

    /// <summary>Waits until <paramref name="condition"/> returns true.</summary>
    public static Task UntilAsync(Func<Task<bool>> condition, TimeSpan? within = null, string? what = null, TimeSpan? every = null) =>
        UntilAsync(condition, () => what ?? "the condition", within, every);

    /// <summary>Waits until <paramref name="condition"/> returns true.</summary>
    public static Task UntilAsync(Func<bool> condition, TimeSpan? within = null, string? what = null, TimeSpan? every = null) =>
        UntilAsync(() => Task.FromResult(condition()), () => what ?? "the condition", within, every);

    /// <summary>
    /// Waits until <paramref name="condition"/> returns true; <paramref name="what"/> is asked only when the wait fails, so
    /// that it can tell what was last seen.
    /// </summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, Func<string> what, TimeSpan? within = null, TimeSpan? every = null)
    {
        var limit = within ?? DefaultWithin;
        var deadline = DateTime.UtcNow + limit;
        while (!await condition())
        {
            if (DateTime.UtcNow >= deadline)
            {
                Assert.Fail($"Waited {limit.TotalSeconds:0.#} s for {what()}; it did not happen.");
            }

            await Task.Delay(every ?? TimeSpan.FromMilliseconds(100));
        }
    }

    /// <summary>
    /// Waits until <paramref name="condition"/> returns true; <paramref name="what"/> is asked only when the wait fails, so
    /// that it can tell what was last seen.
    /// </summary>
    public static Task UntilAsync(Func<bool> condition, Func<string> what, TimeSpan? within = null, TimeSpan? every = null) =>
        UntilAsync(() => Task.FromResult(condition()), what, within, every);
}
