using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json;
using Agents.Models.Pipeline;
using Microsoft.Extensions.AI;

namespace Agents.Models.Tests;

[Trait("Category", "Unit")]
public sealed class PipelineTests
{
    private const string Prompt = "Summarize: the printer of customer 42 has been offline since Monday.";

    [Fact]
    public async Task Every_response_carries_usage_and_cost_from_the_price_table()
    {
        using var host = TestHost.Build(new Dictionary<string, string?>
        {
            ["Models:Prices:deterministic:InputPerMillion"] = "3",
            ["Models:Prices:deterministic:OutputPerMillion"] = "15",
        });

        var response = await host.Client(ModelRoles.Executor).GetResponseAsync(Prompt);

        var usage = response.GetModelUsage();
        Assert.NotNull(usage);
        Assert.Equal(ModelRoles.Executor, usage.Role);
        Assert.Equal("deterministic", usage.Provider);
        Assert.Equal("deterministic", usage.Model);
        Assert.Equal(response.Usage?.InputTokenCount, usage.InputTokens);
        Assert.Equal(response.Usage?.OutputTokenCount, usage.OutputTokens);
        Assert.True(usage.InputTokens > 0 && usage.OutputTokens > 0);
        Assert.True(usage.Priced);
        Assert.Equal(((usage.InputTokens * 3m) + (usage.OutputTokens * 15m)) / 1_000_000m, usage.Cost);
        Assert.True(usage.Duration >= TimeSpan.Zero);
        Assert.Same(usage, response.AdditionalProperties?[ModelUsage.PropertyKey]);
    }

    [Fact]
    public async Task A_model_missing_from_the_price_table_costs_nothing_and_says_so()
    {
        using var host = TestHost.Build(new Dictionary<string, string?> { ["Models:Prices:other-model:InputPerMillion"] = "3" });

        var usage = (await host.Client(ModelRoles.Planner).GetResponseAsync(Prompt)).GetModelUsage();

        Assert.NotNull(usage);
        Assert.False(usage.Priced);
        Assert.Equal(0m, usage.Cost);
        Assert.Equal(ModelRoles.Planner, usage.Role);
    }

    [Fact]
    public async Task Usage_survives_a_json_round_trip_of_the_response()
    {
        using var host = TestHost.Build(new Dictionary<string, string?> { ["Models:Prices:deterministic:OutputPerMillion"] = "10" });
        var response = await host.Client(ModelRoles.Executor).GetResponseAsync(Prompt);

        var json = JsonSerializer.Serialize(response, AIJsonUtilities.DefaultOptions);
        var restored = JsonSerializer.Deserialize<ChatResponse>(json, AIJsonUtilities.DefaultOptions)!;

        Assert.Equal(response.GetModelUsage(), restored.GetModelUsage());
    }

    [Fact]
    public async Task Streaming_responses_carry_usage_too()
    {
        using var host = TestHost.Build(new Dictionary<string, string?> { ["Models:Prices:deterministic:InputPerMillion"] = "1000" });

        var response = await host.Client(ModelRoles.Executor).GetStreamingResponseAsync(Prompt).ToChatResponseAsync();

        var usage = response.GetModelUsage();
        Assert.NotNull(usage);
        Assert.Equal(response.Usage?.InputTokenCount, usage.InputTokens);
        Assert.Equal(usage.InputTokens * 1000m / 1_000_000m, usage.Cost);
        Assert.StartsWith("Deterministic response", response.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_configured_max_output_tokens_bounds_every_call()
    {
        using var host = TestHost.Build(new Dictionary<string, string?> { ["Models:Executor:MaxOutputTokens"] = "12" });

        var response = await host.Client(ModelRoles.Executor).GetResponseAsync(Prompt, new ChatOptions { MaxOutputTokens = 1000 });

        Assert.True(response.Usage?.OutputTokenCount <= 12, $"{response.Usage?.OutputTokenCount} tokens");
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
    }

    [Theory]
    [InlineData(null, 12)]
    [InlineData(1000, 12)]
    [InlineData(5, 5)]
    [InlineData(0, 1)]
    public async Task Bounded_output_caps_what_the_provider_is_asked_for_without_touching_the_callers_options(int? requested, int expected)
    {
        var inner = new RecordingChatClient();
        var client = new BoundedOutputChatClient(inner, 12);
        var options = new ChatOptions { MaxOutputTokens = requested };

        await client.GetResponseAsync("x", options);

        Assert.Equal(expected, Assert.Single(inner.Calls)?.MaxOutputTokens);
        Assert.Equal(requested, options.MaxOutputTokens);
    }

    [Fact]
    public async Task The_configured_temperature_is_a_default_the_caller_may_override()
    {
        var inner = new RecordingChatClient();
        var client = inner.AsBuilder().UseAgentsModelPipeline(ModelRoles.Planner, 100, defaultTemperature: 0.3f).Build();

        await client.GetResponseAsync("x");
        await client.GetResponseAsync("x", new ChatOptions { Temperature = 0.9f });

        Assert.Equal(0.3f, inner.Calls[0]?.Temperature);
        Assert.Equal(0.9f, inner.Calls[1]?.Temperature);
    }

    [Fact]
    public async Task Each_call_emits_a_genai_chat_span_with_usage_and_cost()
    {
        var model = "span-test-" + Guid.NewGuid().ToString("N");
        using var host = TestHost.Build(new Dictionary<string, string?>
        {
            ["Models:Planner:Model"] = model,
            ["Models:Planner:MaxOutputTokens"] = "300",
            [$"Models:Prices:{model}:InputPerMillion"] = "1000000",
            [$"Models:Prices:{model}:OutputPerMillion"] = "0",
        });
        var spans = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == ModelTelemetry.SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                lock (spans)
                {
                    spans.Add(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        using var parent = new Activity("test").Start();

        var response = await host.Client(ModelRoles.Planner).GetResponseAsync(Prompt);

        Activity span;
        lock (spans)
        {
            span = Assert.Single(spans, s => s.TraceId == parent.TraceId);
        }

        var usage = response.GetModelUsage()!;
        Assert.Equal($"chat {model}", span.DisplayName);
        Assert.Equal(ActivityKind.Client, span.Kind);
        Assert.Equal("chat", span.GetTagItem("gen_ai.operation.name"));
        Assert.Equal("deterministic", span.GetTagItem("gen_ai.provider.name"));
        Assert.Equal(model, span.GetTagItem("gen_ai.request.model"));
        Assert.Equal(model, span.GetTagItem("gen_ai.response.model"));
        Assert.Equal(300, Convert.ToInt32(span.GetTagItem("gen_ai.request.max_tokens")));
        Assert.Equal(usage.InputTokens, Convert.ToInt64(span.GetTagItem("gen_ai.usage.input_tokens")));
        Assert.Equal(usage.OutputTokens, Convert.ToInt64(span.GetTagItem("gen_ai.usage.output_tokens")));
        Assert.Equal((double)usage.InputTokens, span.GetTagItem(ModelTelemetry.CostAttribute));
        Assert.Equal(ModelRoles.Planner, span.GetTagItem(ModelTelemetry.RoleTag));
    }

    [Fact]
    public async Task Tokens_and_cost_are_recorded_as_metrics_tagged_with_model_and_role()
    {
        var model = "metrics-test-" + Guid.NewGuid().ToString("N");
        using var host = TestHost.Build(new Dictionary<string, string?>
        {
            ["Models:Executor:Model"] = model,
            [$"Models:Prices:{model}:InputPerMillion"] = "500000",
            [$"Models:Prices:{model}:OutputPerMillion"] = "1000000",
        });
        var measurements = new List<(string Instrument, double Value, Dictionary<string, object?> Tags)>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == ModelTelemetry.MeterName && instrument.Name.StartsWith("agents.model.", StringComparison.Ordinal))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var tagMap = new Dictionary<string, object?>();
            foreach (var tag in tags)
            {
                tagMap[tag.Key] = tag.Value;
            }

            lock (measurements)
            {
                measurements.Add((instrument.Name, value, tagMap));
            }
        }

        listener.SetMeasurementEventCallback<long>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<double>((i, v, t, _) => Record(i, v, t));
        listener.Start();

        var usage = (await host.Client(ModelRoles.Executor).GetResponseAsync(Prompt)).GetModelUsage()!;

        List<(string Instrument, double Value, Dictionary<string, object?> Tags)> mine;
        lock (measurements)
        {
            mine = measurements.Where(m => Equals(m.Tags.GetValueOrDefault(ModelTelemetry.ModelTag), model)).ToList();
        }

        Assert.All(mine, m => Assert.Equal(ModelRoles.Executor, m.Tags[ModelTelemetry.RoleTag]));
        var input = Assert.Single(mine, m => m.Instrument == ModelTelemetry.TokensInstrument && Equals(m.Tags[ModelTelemetry.TokenTypeTag], "input"));
        var output = Assert.Single(mine, m => m.Instrument == ModelTelemetry.TokensInstrument && Equals(m.Tags[ModelTelemetry.TokenTypeTag], "output"));
        var cost = Assert.Single(mine, m => m.Instrument == ModelTelemetry.CostInstrument);
        Assert.Equal(usage.InputTokens, input.Value);
        Assert.Equal(usage.OutputTokens, output.Value);
        Assert.Equal((double)usage.Cost, cost.Value, 9);
        Assert.Equal((usage.InputTokens * 0.5) + usage.OutputTokens, cost.Value, 9);
    }

    [Fact]
    public async Task A_failed_call_through_the_pipeline_surfaces_the_injected_failure()
    {
        using var host = TestHost.Build(new Dictionary<string, string?> { ["Models:Executor:Deterministic:FailFirstCalls"] = "1" });
        var client = host.Client(ModelRoles.Executor);

        await Assert.ThrowsAsync<Deterministic.DeterministicModelException>(() => client.GetResponseAsync(Prompt));
        Assert.NotNull((await client.GetResponseAsync(Prompt)).GetModelUsage());
    }
}
