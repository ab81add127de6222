using System.Text.Json;
using Agents.Models.Deterministic;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Time.Testing;

namespace Agents.Models.Tests;

[Trait("Category", "Unit")]
public sealed class DeterministicChatClientTests
{
    private const string SupportPrompt = """
        Draft a reply to this customer given these facts.
        Customer: Ada Lovelace
        Plan: Gold
        The printer has been offline since Monday
        Order 1234 shipped on 2025-01-03
        Please keep it short and friendly
        """;

    private static readonly JsonElement TicketSchema = JsonDocument.Parse("""
        {
          "type": "object",
          "properties": {
            "title": { "type": "string", "minLength": 3, "maxLength": 40 },
            "priority": { "enum": ["low", "normal", "high", "urgent"] },
            "count": { "type": "integer", "minimum": 2, "maximum": 7 },
            "score": { "type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1 },
            "even": { "type": "integer", "multipleOf": 2, "minimum": 1, "maximum": 9 },
            "email": { "type": "string", "format": "email" },
            "when": { "type": "string", "format": "date-time" },
            "day": { "type": "string", "format": "date" },
            "id": { "type": "string", "format": "uuid" },
            "link": { "type": "string", "format": "uri" },
            "done": { "type": "boolean" },
            "note": { "type": ["string", "null"] },
            "kind": { "const": "ticket" },
            "tags": { "type": "array", "items": { "type": "string", "minLength": 1 }, "minItems": 2, "maxItems": 3 },
            "owner": { "$ref": "#/$defs/person" },
            "either": { "anyOf": [{ "type": "null" }, { "type": "integer", "minimum": 10 }] },
            "merged": { "allOf": [
              { "type": "object", "properties": { "a": { "type": "string" } }, "required": ["a"] },
              { "type": "object", "properties": { "b": { "type": "integer" } }, "required": ["b"] } ] }
          },
          "required": ["title", "priority", "count", "score", "even", "email", "when", "day", "id", "link", "done", "note", "kind", "tags", "owner", "either", "merged"],
          "additionalProperties": false,
          "$defs": {
            "person": {
              "type": "object",
              "properties": { "name": { "type": "string" }, "age": { "type": "integer", "minimum": 0, "maximum": 130 } },
              "required": ["name", "age"],
              "additionalProperties": false
            }
          }
        }
        """).RootElement;

    [Fact]
    public async Task Same_input_gives_the_same_output_across_instances()
    {
        var first = await new DeterministicChatClient().GetResponseAsync(SupportPrompt);
        var second = await new DeterministicChatClient().GetResponseAsync(SupportPrompt);
        var other = await new DeterministicChatClient().GetResponseAsync(SupportPrompt + "\nOne more thing: 42");

        Assert.Equal(first.Text, second.Text);
        Assert.Equal(first.ResponseId, second.ResponseId);
        Assert.Equal(first.Usage?.InputTokenCount, second.Usage?.InputTokenCount);
        Assert.Equal(first.Usage?.OutputTokenCount, second.Usage?.OutputTokenCount);
        Assert.NotEqual(first.Text, other.Text);
        Assert.NotEqual(first.ResponseId, other.ResponseId);
    }

    [Fact]
    public async Task A_text_request_gets_a_readable_digest_quoting_key_lines_and_saying_what_it_is()
    {
        var response = await new DeterministicChatClient().GetResponseAsync(SupportPrompt);

        var text = response.Text;
        Assert.Contains("not a language model", text, StringComparison.Ordinal);
        Assert.Contains("Request: Draft a reply to this customer given these facts.", text, StringComparison.Ordinal);
        Assert.Contains("- \"Customer: Ada Lovelace\"", text, StringComparison.Ordinal);
        Assert.Contains("- \"Order 1234 shipped on 2025-01-03\"", text, StringComparison.Ordinal);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        Assert.Equal("deterministic", response.ModelId);
    }

    [Fact]
    public async Task Usage_is_estimated_from_characters()
    {
        var response = await new DeterministicChatClient().GetResponseAsync(SupportPrompt);

        Assert.Equal((SupportPrompt.Length + 3) / 4, response.Usage?.InputTokenCount);
        Assert.Equal((response.Text.Length + 3) / 4, response.Usage?.OutputTokenCount);
        Assert.Equal(response.Usage?.InputTokenCount + response.Usage?.OutputTokenCount, response.Usage?.TotalTokenCount);
    }

    [Fact]
    public async Task Json_with_a_schema_is_valid_against_the_schema()
    {
        var options = new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(TicketSchema, "ticket") };

        var response = await new DeterministicChatClient().GetResponseAsync(SupportPrompt, options);

        SchemaAssert.Valid(TicketSchema, response.Text);
        using var json = JsonDocument.Parse(response.Text);
        Assert.Equal("ticket", json.RootElement.GetProperty("kind").GetString());
        Assert.Equal(2, json.RootElement.GetProperty("tags").GetArrayLength());
    }

    [Theory]
    [InlineData("Triage customer 42's printer issue")]
    [InlineData("Résumé: naïve café — 東京 🚀 with emoji")]
    [InlineData("")]
    [InlineData("one")]
    public async Task Json_is_valid_for_any_prompt_and_derived_from_it(string prompt)
    {
        var options = new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(TicketSchema, "ticket"), MaxOutputTokens = 4000 };

        var first = await new DeterministicChatClient().GetResponseAsync(prompt, options);
        var again = await new DeterministicChatClient().GetResponseAsync(prompt, options);
        var different = await new DeterministicChatClient().GetResponseAsync(prompt + " (reworded)", options);

        SchemaAssert.Valid(TicketSchema, first.Text);
        SchemaAssert.Valid(TicketSchema, different.Text);
        Assert.Equal(first.Text, again.Text);
        Assert.NotEqual(first.Text, different.Text);
    }

    public enum Urgency
    {
        Low,
        High,
    }

    public sealed record Customer(string Name, int? Age);

    public sealed record TicketDraft(string Subject, Urgency Urgency, int EstimatedMinutes, List<string> Steps, Customer? Customer, Dictionary<string, string>? Labels);

    [Fact]
    public async Task Typed_structured_output_deserializes_into_the_callers_record()
    {
        IChatClient client = new DeterministicChatClient();

        var response = await client.GetResponseAsync<TicketDraft>("Open a ticket for the offline printer of customer 42");

        Assert.True(response.TryGetResult(out var draft), response.Text);
        Assert.False(string.IsNullOrWhiteSpace(draft.Subject));
        Assert.NotEmpty(draft.Steps);
        Assert.True(Enum.IsDefined(draft.Urgency));
    }

    [Fact]
    public async Task A_json_request_without_a_schema_gets_a_json_object()
    {
        var response = await new DeterministicChatClient().GetResponseAsync(SupportPrompt, new ChatOptions { ResponseFormat = ChatResponseFormat.Json });

        using var json = JsonDocument.Parse(response.Text);
        Assert.Contains("Ada Lovelace", json.RootElement.GetProperty("response").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Output_longer_than_max_output_tokens_is_cut_with_finish_reason_length()
    {
        var client = new DeterministicChatClient();

        var response = await client.GetResponseAsync(SupportPrompt, new ChatOptions { MaxOutputTokens = 10 });

        Assert.True(response.Text.Length <= 40, response.Text);
        Assert.Equal(10, response.Usage?.OutputTokenCount);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
    }

    [Fact]
    public async Task First_calls_fail_when_asked_then_calls_succeed()
    {
        var client = new DeterministicChatClient(settings: new DeterministicModelSettings { FailFirstCalls = 2 });

        var first = await Assert.ThrowsAsync<DeterministicModelException>(() => client.GetResponseAsync("hello"));
        await Assert.ThrowsAsync<DeterministicModelException>(() => client.GetResponseAsync("hello"));
        var third = await client.GetResponseAsync("hello");

        Assert.Contains("call 1", first.Message, StringComparison.Ordinal);
        Assert.Equal((await new DeterministicChatClient().GetResponseAsync("hello")).Text, third.Text);
        Assert.Equal(3, client.CallCount);
    }

    [Fact]
    public async Task A_prompt_containing_the_failure_marker_always_fails()
    {
        var client = new DeterministicChatClient(settings: new DeterministicModelSettings { FailWhenPromptContains = "[model-down]" });

        await Assert.ThrowsAsync<DeterministicModelException>(() => client.GetResponseAsync("summarize [model-down] please"));
        await Assert.ThrowsAsync<DeterministicModelException>(() => client.GetResponseAsync("summarize [model-down] please"));
        Assert.NotEmpty((await client.GetResponseAsync("summarize please")).Text);
    }

    [Fact]
    public async Task Latency_waits_on_the_time_provider()
    {
        var time = new FakeTimeProvider();
        var client = new DeterministicChatClient(settings: new DeterministicModelSettings { LatencyMilliseconds = 5000 }, timeProvider: time);

        var call = client.GetResponseAsync("hello");
        time.Advance(TimeSpan.FromSeconds(4));
        Assert.False(call.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1));

        Assert.NotEmpty((await call).Text);
    }

    [Fact]
    public async Task Latency_honours_cancellation()
    {
        var client = new DeterministicChatClient(settings: new DeterministicModelSettings { LatencyMilliseconds = 600_000 });
        using var cancellation = new CancellationTokenSource();

        var call = client.GetResponseAsync("hello", cancellationToken: cancellation.Token);
        await cancellation.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
    }

    [Fact]
    public async Task Streaming_gives_the_same_text_and_usage()
    {
        var client = new DeterministicChatClient();

        var whole = await client.GetResponseAsync(SupportPrompt);
        var streamed = await client.GetStreamingResponseAsync(SupportPrompt).ToChatResponseAsync();

        Assert.Equal(whole.Text, streamed.Text);
        Assert.Equal(whole.Usage?.OutputTokenCount, streamed.Usage?.OutputTokenCount);
    }
}

[Trait("Category", "Unit")]
public sealed class SchemaAssertTests
{
    [Theory]
    [InlineData("""{"a":"x"}""")]
    [InlineData("""{"a":"x","b":"not-an-email"}""")]
    [InlineData("""{"b":"x@example.invalid"}""")]
    public void The_schema_check_itself_rejects_invalid_json(string json)
    {
        var schema = JsonDocument.Parse("""
            {"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string","format":"email"}},"required":["a","b"],"additionalProperties":false}
            """).RootElement;

        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => SchemaAssert.Valid(schema, json));
    }
}
