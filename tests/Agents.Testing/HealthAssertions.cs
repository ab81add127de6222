using System.Net;
using Xunit;

namespace Agents.Testing;

public static class HealthAssertions
{
    /// <summary>
    /// Polls <c>/health/ready</c> until it answers <paramref name="expected"/> (the bus connects in the
    /// background after start); fails with the last answer when it does not within <paramref name="within"/> (60 s).
    /// </summary>
    public static async Task<string> ReadyBecomesAsync(HttpClient client, HttpStatusCode expected, TimeSpan? within = null)
    {
        var status = default(HttpStatusCode);
        var body = string.Empty;
        await Poll.UntilAsync(
            async () =>
            {
                using var response = await client.GetAsync(new Uri("/health/ready", UriKind.Relative));
                status = response.StatusCode;
                body = await response.Content.ReadAsStringAsync();
                return status == expected;
            },
            () => $"/health/ready to answer {(int)expected} (it answered {(int)status}: {body})",
            within ?? TimeSpan.FromSeconds(60),
            TimeSpan.FromMilliseconds(200));
        return body;
    }

    /// <summary>
    /// Polls <c>/health/ready</c> for at least <paramref name="duration"/> (and, when given, until
    /// <paramref name="until"/> holds for the body, at most a minute) and asserts that it answers
    /// <paramref name="expected"/> every time; returns the last body.
    /// </summary>
    public static async Task<string> ReadyStaysAsync(HttpClient client, HttpStatusCode expected, TimeSpan duration, Func<string, bool>? until = null)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var body = string.Empty;
        await Poll.UntilAsync(
            async () =>
            {
                using var response = await client.GetAsync(new Uri("/health/ready", UriKind.Relative));
                body = await response.Content.ReadAsStringAsync();
                Assert.True(response.StatusCode == expected, $"/health/ready answered {(int)response.StatusCode} instead of {(int)expected}: {body}");
                return watch.Elapsed >= duration && (until is null || until(body));
            },
            () => $"/health/ready to reach the expected state (last: {body})",
            TimeSpan.FromSeconds(60),
            TimeSpan.FromMilliseconds(250));
        return body;
    }
}
