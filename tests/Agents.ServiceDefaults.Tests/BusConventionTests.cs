using Agents.ServiceDefaults.Messaging;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Agents.ServiceDefaults.Tests;

[Trait("Category", "Unit")]
public sealed class BusConventionTests
{
    [Fact]
    public void Endpoint_names_are_kebab_case_with_the_configured_prefix_and_the_consumer_namespace()
    {
        var formatter = BusConventions.EndpointNameFormatter(new BusOptions { QueuePrefix = "staging" });

        Assert.Equal("staging-agents-service-defaults-tests-flaky", formatter.Consumer<FlakyConsumer>());
        Assert.Equal("agents-service-defaults-tests-flaky", BusConventions.EndpointNameFormatter(new BusOptions()).Consumer<FlakyConsumer>());
    }

    [Fact]
    public void Two_services_consuming_the_same_event_get_a_queue_each()
    {
        var formatter = BusConventions.EndpointNameFormatter(new BusOptions());

        Assert.NotEqual(formatter.Consumer<FlakyConsumer>(), formatter.Consumer<OtherService.FlakyConsumer>());
    }

    [Fact]
    public void A_queue_prefix_also_prefixes_message_exchanges()
    {
        var options = new BusOptions { QueuePrefix = "staging" };
        var bus = Bus.Factory.CreateUsingInMemory(cfg => BusConventions.Apply(cfg, options));
        var unprefixed = Bus.Factory.CreateUsingInMemory(cfg => BusConventions.Apply(cfg, new BusOptions()));

        var plain = unprefixed.Topology.Message<Work>().EntityName;
        Assert.Equal("staging." + plain, bus.Topology.Message<Work>().EntityName);
        Assert.Contains("Work", plain, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_transient_failure_is_retried_until_it_succeeds()
    {
        var attempts = new AttemptCounter(failures: 2);
        await using var provider = BuildHarness(attempts, retryLimit: 3);
        var harness = provider.GetRequiredService<ITestHarness>();
        await harness.Start();

        await harness.Bus.Publish(new Work(Permanent: false));

        Assert.True(await harness.GetConsumerHarness<FlakyConsumer>().Consumed.Any<Work>());
        Assert.False(await harness.Published.Any<Fault<Work>>());
        Assert.Equal(3, attempts.Count);
    }

    [Fact]
    public async Task A_message_that_keeps_failing_faults_after_the_retry_limit()
    {
        var attempts = new AttemptCounter(failures: int.MaxValue);
        await using var provider = BuildHarness(attempts, retryLimit: 2);
        var harness = provider.GetRequiredService<ITestHarness>();
        await harness.Start();

        await harness.Bus.Publish(new Work(Permanent: false));

        Assert.True(await harness.Published.Any<Fault<Work>>());
        Assert.Equal(3, attempts.Count);
    }

    [Fact]
    public async Task A_permanent_failure_is_not_retried_and_faults_with_its_reason()
    {
        var attempts = new AttemptCounter(failures: int.MaxValue);
        await using var provider = BuildHarness(attempts, retryLimit: 5);
        var harness = provider.GetRequiredService<ITestHarness>();
        await harness.Start();

        await harness.Bus.Publish(new Work(Permanent: true));

        Assert.True(await harness.Published.Any<Fault<Work>>());
        var fault = harness.Published.Select<Fault<Work>>().First().Context.Message;
        Assert.Equal("work is malformed", fault.Exceptions[0].Message);
        Assert.Equal(1, attempts.Count);
    }

    private static ServiceProvider BuildHarness(AttemptCounter attempts, int retryLimit)
    {
        var options = new BusOptions { Retry = new RetrySettings { Limit = retryLimit, MinInterval = TimeSpan.FromMilliseconds(1), MaxInterval = TimeSpan.FromMilliseconds(5), IntervalDelta = TimeSpan.FromMilliseconds(1) } };
        return new ServiceCollection()
            .AddSingleton(attempts)
            .AddMassTransitTestHarness(x =>
            {
                x.AddConsumer<FlakyConsumer>();
                x.UsingInMemory((context, cfg) =>
                {
                    BusConventions.Apply(cfg, options);
                    cfg.ConfigureEndpoints(context);
                });
            })
            .BuildServiceProvider(true);
    }
}

public sealed record Work(bool Permanent);

public sealed class AttemptCounter(int failures)
{
    private int _count;

    public int Count => _count;

    public bool ShouldFail() => Interlocked.Increment(ref _count) <= failures;
}

public sealed class FlakyConsumer(AttemptCounter attempts) : IConsumer<Work>
{
    public Task Consume(ConsumeContext<Work> context)
    {
        if (attempts.ShouldFail())
        {
            throw context.Message.Permanent ? new PermanentFailureException("work is malformed") : new InvalidOperationException("transient");
        }

        return Task.CompletedTask;
    }
}
