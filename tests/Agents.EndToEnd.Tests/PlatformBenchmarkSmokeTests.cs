using Agents.Testing;

namespace Agents.EndToEnd.Tests;

/// <summary>
/// The platform benchmark's smoke mode (3 tasks, 2 in flight) against the platform this collection started, as its
/// own process: its policy write, submissions, event streams, timings and cost meter all run, so a change that breaks
/// the benchmark fails here. Its figures mean nothing at this size and are not checked.
/// </summary>
[Trait("Category", "EndToEnd")]
[Collection(PlatformCollection.Name)]
public sealed class PlatformBenchmarkSmokeTests(PlatformFixture platform)
{
    [Fact]
    public async Task The_platform_benchmark_smoke_run_completes_its_tasks()
    {
        var run = await BenchmarkProgram.RunAsync(
            "Agents.Platform.Benchmarks",
            ["smoke"],
            new Dictionary<string, string>
            {
                ["AGENTS_GATEWAY"] = platform.GatewayAddress.ToString(),
                ["AGENTS_BENCH_API_KEY"] = PlatformFixture.BenchKey,
                ["AGENTS_BENCH_ARTICLE"] = platform.KnowledgeBaseUrl("password-reset"),
                ["AGENTS_BENCH_POSTGRES"] = TestInfrastructure.PostgresServer,
                ["AGENTS_BENCH_RABBIT_VHOST"] = Uri.UnescapeDataString(new Uri(TestInfrastructure.RabbitMq).AbsolutePath.TrimStart('/')) is { Length: > 0 } vhost ? vhost : "/",
            },
            TimeSpan.FromMinutes(5));

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("[saturated] 3 'lookup-and-summarize' tasks, 2 in flight", run.Output, StringComparison.Ordinal);
        Assert.Contains("completed            3/3 (Completed: 3)", run.Output, StringComparison.Ordinal);
        Assert.Contains("task latency         p50 ", run.Output, StringComparison.Ordinal);
    }
}
