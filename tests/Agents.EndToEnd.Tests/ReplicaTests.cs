using System.Text.Json;
using Agents.Testing;

namespace Agents.EndToEnd.Tests;

/// <summary>
/// Scale-out: a second executor process on the same database and broker takes its share of the work (competing
/// consumers on the same queues, the saga's rows shared through optimistic concurrency), and killing it mid-run
/// fails no task: what it held unacknowledged is redelivered to the other replica.
/// </summary>
[Collection(PlatformCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class ReplicaTests(PlatformFixture platform)
{
    private const int Tasks = 12;

    [Fact]
    public async Task Two_executor_replicas_share_the_tasks_and_killing_one_mid_run_fails_none_and_runs_no_step_twice()
    {
        using var alice = platform.CreateClient(PlatformFixture.AliceKey);
        var replica = await platform.StartReplicaAsync("executor");
        try
        {
            // Both replicas consume the executor's queues.
            var shared = await QueuesWithConsumersAsync(platform.QueuePrefix, atLeast: 2, TimeSpan.FromSeconds(30));
            Assert.NotEmpty(shared);

            // One task first, so that the tools answer warm (a tool's first call pays its start-up).
            await TaskClient.WaitForStatusAsync(alice, await SubmitAsync(alice, 0), "Completed", TimeSpan.FromSeconds(120));
            var ids = new List<Guid>();
            for (var i = 0; i < Tasks; i++)
            {
                ids.Add(await SubmitAsync(alice, i));
            }

            // Killed (SIGKILL) as soon as the first task has a step result: the others are mid-run.
            await TaskClient.WaitUntilAsync(alice, ids[0], t => TaskClient.Status(t) != "Submitted", TimeSpan.FromSeconds(60), "the first task to start");
            await replica.KillAsync();

            foreach (var id in ids)
            {
                var task = await TaskClient.WaitForStatusAsync(alice, id, "Completed", TimeSpan.FromSeconds(180));
                var result = task.GetProperty("result");
                Assert.True(result.TryGetProperty("summary", out _), $"task {id} has no summary: {result}");

                // Every step's result is recorded once: nothing ran twice across the replicas.
                using var log = JsonDocument.Parse(await alice.GetStringAsync(new Uri($"api/tasks/{id}/log", UriKind.Relative)));
                var succeeded = log.RootElement.GetProperty("events").EnumerateArray()
                    .Where(e => e.GetProperty("kind").GetString() == "step-succeeded")
                    .Select(e => e.GetProperty("stepId").GetString())
                    .ToList();
                Assert.Equal(3, succeeded.Count);
                Assert.Equal(3, succeeded.Distinct().Count());
            }
        }
        finally
        {
            await replica.DisposeAsync();
        }
    }

    private Task<Guid> SubmitAsync(HttpClient client, int i) => TaskClient.SubmitAsync(client, new
    {
        template = "lookup-and-summarize",
        parameters = new Dictionary<string, string>
        {
            ["customerId"] = $"C-100{1 + (i % 4)}",
            ["article"] = platform.KnowledgeBaseUrl("password-reset"),
        },
    });

    /// <summary>Queues of this platform (by prefix) that have at least <paramref name="atLeast"/> consumers, from the management API.</summary>
    private static async Task<List<string>> QueuesWithConsumersAsync(string prefix, int atLeast, TimeSpan within)
    {
        using var http = TestInfrastructure.RabbitMqManagement();
        var path = $"api/queues/{Uri.EscapeDataString(TestInfrastructure.RabbitMqVirtualHost)}?columns=name,consumers";
        List<string> queues = [];
        await Poll.UntilAsync(
            async () =>
            {
                using var doc = JsonDocument.Parse(await http.GetStringAsync(new Uri(path, UriKind.Relative)));
                queues = doc.RootElement.EnumerateArray()
                    .Where(q => q.GetProperty("name").GetString()!.StartsWith(prefix, StringComparison.Ordinal)
                        && q.TryGetProperty("consumers", out var c) && c.GetInt32() >= atLeast)
                    .Select(q => q.GetProperty("name").GetString()!)
                    .ToList();
                return queues.Count > 0;
            },
            within,
            $"a queue of {prefix} with at least {atLeast} consumers",
            TimeSpan.FromMilliseconds(500));
        return queues;
    }
}
