using System.Text.Json;
using Agents.Models.Deterministic;
using Agents.Models.Pipeline;
using Agents.Models.Replay;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace Agents.Models.Tests;

[Trait("Category", "Unit")]
public sealed class ReplayTests
{
    private static ChatResponse Recorded(string text, int input = 7, int output = 3) =>
        new(new ChatMessage(ChatRole.Assistant, text))
        {
            ModelId = "gpt-recorded",
            FinishReason = ChatFinishReason.Stop,
            Usage = new UsageDetails { InputTokenCount = input, OutputTokenCount = output, TotalTokenCount = input + output },
        };

    [Fact]
    public async Task Recorded_responses_are_returned_in_call_order_without_calling_the_model()
    {
        var live = new RecordingChatClient("live answer");
        var replay = new ReplayChatClient([Recorded("first"), Recorded("second")], fallback: live);

        var first = await replay.GetResponseAsync("anything");
        var second = await replay.GetResponseAsync("something else entirely");

        Assert.Equal("first", first.Text);
        Assert.Equal("second", second.Text);
        Assert.Empty(live.Calls);
        Assert.Equal(2, replay.ReplayedCount);
        Assert.Equal(true, first.AdditionalProperties?[ReplayChatClient.ReplayedProperty]);
        Assert.Equal(7, first.Usage?.InputTokenCount);
    }

    [Fact]
    public async Task Past_the_end_of_the_recording_the_fallback_answers_or_the_call_fails()
    {
        var live = new RecordingChatClient("live answer");
        var withFallback = new ReplayChatClient([Recorded("only")], fallback: live);
        var strict = new ReplayChatClient([Recorded("only")]);

        await withFallback.GetResponseAsync("a");
        var fromLive = await withFallback.GetResponseAsync("b");
        await strict.GetResponseAsync("a");
        var miss = await Assert.ThrowsAsync<ReplayMissException>(() => strict.GetResponseAsync("b"));

        Assert.Equal("live answer", fromLive.Text);
        Assert.Single(live.Calls);
        Assert.Contains("call 2", miss.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_run_recorded_to_json_replays_by_request_hash()
    {
        // Record: a live run whose requests and responses go to an event log as JSON.
        var model = new DeterministicChatClient();
        var schemaOptions = new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(JsonDocument.Parse("""{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]}""").RootElement, "count") };
        List<ChatMessage> stepOne = [new(ChatRole.System, "You are careful."), new(ChatRole.User, "Count the open tickets")];
        List<ChatMessage> stepTwo = [new(ChatRole.User, "Draft the reply")];
        var log = new Dictionary<string, string>
        {
            [ChatRequestHash.Compute(stepOne, schemaOptions)] = JsonSerializer.Serialize(await model.GetResponseAsync(stepOne, schemaOptions), AIJsonUtilities.DefaultOptions),
            [ChatRequestHash.Compute(stepTwo)] = JsonSerializer.Serialize(await model.GetResponseAsync(stepTwo), AIJsonUtilities.DefaultOptions),
        };

        // Replay: from the log, in another order, never reaching the model.
        var recordings = log.ToDictionary(e => e.Key, e => JsonSerializer.Deserialize<ChatResponse>(e.Value, AIJsonUtilities.DefaultOptions)!);
        var replay = new ReplayChatClient(recordings);

        var two = await replay.GetResponseAsync([new ChatMessage(ChatRole.User, "Draft the reply")]);
        var one = await replay.GetResponseAsync([new ChatMessage(ChatRole.System, "You are careful."), new ChatMessage(ChatRole.User, "Count the open tickets")], schemaOptions);

        Assert.Equal((await model.GetResponseAsync(stepTwo)).Text, two.Text);
        Assert.Equal((await model.GetResponseAsync(stepOne, schemaOptions)).Text, one.Text);
        Assert.Equal(2, replay.ReplayedCount);
        await Assert.ThrowsAsync<ReplayMissException>(() => replay.GetResponseAsync("Draft the reply, differently"));
        await Assert.ThrowsAsync<ReplayMissException>(() => replay.GetResponseAsync(stepOne)); // same messages, no schema: another request
    }

    [Fact]
    public void The_request_hash_ignores_ids_and_token_caps_but_not_content()
    {
        List<ChatMessage> messages = [new(ChatRole.User, "hello") { MessageId = "m1" }];
        List<ChatMessage> sameWithOtherId = [new(ChatRole.User, "hello") { MessageId = "m2" }];
        List<ChatMessage> otherRole = [new(ChatRole.System, "hello")];

        var hash = ChatRequestHash.Compute(messages, new ChatOptions { MaxOutputTokens = 10 });

        Assert.Matches("^[0-9a-f]{64}$", hash);
        Assert.Equal(hash, ChatRequestHash.Compute(sameWithOtherId, new ChatOptions { MaxOutputTokens = 99 }));
        Assert.NotEqual(hash, ChatRequestHash.Compute(otherRole));
        Assert.NotEqual(hash, ChatRequestHash.Compute(messages, new ChatOptions { ModelId = "other" }));
        Assert.NotEqual(hash, ChatRequestHash.Compute(messages, new ChatOptions().WithDeterministicResponder("plan")));
    }

    [Fact]
    public async Task Replay_streams_the_recorded_text()
    {
        var replay = new ReplayChatClient([Recorded("streamed from the log")]);

        var response = await replay.GetStreamingResponseAsync("x").ToChatResponseAsync();

        Assert.Equal("streamed from the log", response.Text);
    }

    [Fact]
    public async Task Replay_inside_the_pipeline_reports_the_recorded_usage_and_the_replay_provider()
    {
        var prices = new ModelPriceTable([new("gpt-recorded", new ModelPrice { InputPerMillion = 1_000_000m, OutputPerMillion = 2_000_000m })]);
        var recorded = Recorded("from the log", input: 4, output: 2);
        using var services = new ServiceCollection().AddSingleton(prices).BuildServiceProvider();
        var client = new ReplayChatClient([recorded]).AsBuilder()
            .UseAgentsModelPipeline(ModelRoles.Executor, maxOutputTokens: 100)
            .Build(services);

        var response = await client.GetResponseAsync("x");

        var usage = response.GetModelUsage()!;
        Assert.Equal("replay", usage.Provider);
        Assert.Equal("gpt-recorded", usage.Model);
        Assert.Equal(8m, usage.Cost);
        Assert.Null(recorded.AdditionalProperties); // the recording itself is left as it was
    }
}
