using Agents.Testing;

namespace Agents.Messaging.Tests;

/// <summary>
/// The messaging benchmark's smoke mode (20 messages per case), as its own process on the test broker and server:
/// a change that breaks the benchmark fails here rather than the next time someone measures.
/// </summary>
[Trait("Category", "Infrastructure")]
[Collection(MessagingCollection.Name)]
public sealed class BenchmarkSmokeTests
{
    [Fact]
    public async Task The_messaging_benchmark_smoke_run_measures_every_case()
    {
        var run = await BenchmarkProgram.RunAsync(
            "Agents.Messaging.Benchmarks",
            ["smoke"],
            new Dictionary<string, string>
            {
                ["AGENTS_TEST_RABBITMQ"] = TestInfrastructure.RabbitMq,
                ["AGENTS_TEST_POSTGRES"] = TestInfrastructure.PostgresServer,
            },
            TimeSpan.FromMinutes(4));

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("burst: 20 messages per case", run.Output, StringComparison.Ordinal);
        foreach (var name in new[] { "a) plain publish", "b) bus outbox", "c) plain publish -> inbox", "d) inbox+outbox hop" })
        {
            var row = run.Output.Split('\n').SingleOrDefault(l => l.StartsWith(name, StringComparison.Ordinal));
            Assert.True(row is not null, $"no result row for '{name}':\n{run}");

            // Messages went through, and every case but the plain publish committed database transactions for them.
            var figures = row[38..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            Assert.True(double.Parse(figures[0], System.Globalization.CultureInfo.InvariantCulture) > 0, row);
            var transactionsPerMessage = double.Parse(figures[^1], System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(name.StartsWith("a)", StringComparison.Ordinal) ? transactionsPerMessage >= 0 : transactionsPerMessage > 0, row);
        }
    }
}
