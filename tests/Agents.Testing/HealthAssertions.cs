using System.Net;
using Xunit;

namespace Agents.Testing;

public static class HealthAssertions
{
    /// <summary>
    /// Polls <c>/health/ready</c> until it answers <paramref name="expected"/> (the bus connects in the
    /// background after start) or the deadline passes, then asserts the last answer.
    /// </summary>
    public static async Task<string> ReadyBecomesAsync(HttpClient client, HttpStatusCode expected, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(60));
        HttpStatusCode status;
        string body;
        do
        {
            using var response = await client.GetAsync(new Uri("/health/ready", UriKind.Relative));
            status = response.StatusCode;
            body = await response.Content.ReadAsStringAsync();
            if (status == expected)
            {
                return body;
            }

            await Task.Delay(200);
        }
        while (DateTime.UtcNow < deadline);

        Assert.Fail($"/health/ready answered {(int)status} instead of {(int)expected}: {body}");
        return body;
    }

    /// <summary>
    /// Polls <c>/health/ready</c> for at least <paramref name="duration"/> (and, when given, until
    /// <paramref name="until"/> holds for the body, at most a minute) and asserts that it answers
    /// <paramref name="expected"/> every time; returns the last body.
    /// </summary>
    public static async Task<string> ReadyStaysAsync(HttpClient client, HttpStatusCode expected, TimeSpan duration, Func<string, bool>? until = null)
    {
        var deadline = DateTime.UtcNow + duration;
        var limit = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        string body;
        do
        {
            using var response = await client.GetAsync(new Uri("/health/ready", UriKind.Relative));
            body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == expected, $"/health/ready answered {(int)response.StatusCode} instead of {(int)expected}: {body}");
            if (DateTime.UtcNow >= deadline && (until is null || until(body)))
            {
                return body;
            }

            await Task.Delay(250);
        }
        while (DateTime.UtcNow < limit);

        Assert.Fail($"/health/ready never reached the expected state: {body}");
        return body;
    }
}
