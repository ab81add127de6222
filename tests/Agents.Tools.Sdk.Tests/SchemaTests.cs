using System.Text.Json.Nodes;
using Agents.Contracts;
using Agents.Tools.Sdk.Schema;

namespace Agents.Tools.Sdk.Tests;

[Trait("Category", "Unit")]
public sealed class SchemaTests
{
    [Fact]
    public void Input_schema_marks_required_properties_and_carries_annotations()
    {
        var schema = ToolDefinition.For<Greet>().InputSchema;

        Assert.Equal("https://json-schema.org/draft/2020-12/schema", (string?)schema["$schema"]);
        Assert.Equal("Whom to greet and how.", (string?)schema["description"]);
        Assert.False((bool?)schema["additionalProperties"]);
        var required = schema["required"]!.AsArray().Select(n => (string?)n).ToList();
        Assert.Equal(["name"], required);

        var name = schema["properties"]!["name"]!;
        Assert.Equal("string", (string?)name["type"]);
        Assert.Equal(20, (int?)name["maxLength"]);
        Assert.Equal("^[A-Za-z ]+$", (string?)name["pattern"]);
        Assert.Equal("The name of the person to greet.", (string?)name["description"]);

        var times = schema["properties"]!["times"]!;
        Assert.Equal("integer", (string?)times["type"]);
        Assert.Equal(1, (double?)times["minimum"]);
        Assert.Equal(5, (double?)times["maximum"]);

        var title = schema["properties"]!["title"]!["type"]!.AsArray().Select(n => (string?)n).ToList();
        Assert.Contains("null", title);
    }

    [Fact]
    public void Enums_are_strings_and_output_schema_comes_from_the_output_record()
    {
        var definition = ToolDefinition.For<PlaceOrder>();

        var speed = definition.InputSchema["properties"]!["speed"]!;
        Assert.Equal(["standard", "express"], speed["enum"]!.AsArray().Select(n => (string?)n).ToList());
        Assert.Equal(["item", "quantity"], definition.InputSchema["required"]!.AsArray().Select(n => (string?)n).Order().ToList());
        Assert.Equal("string", (string?)definition.OutputSchema["properties"]!["orderId"]!["type"]);
        Assert.True(definition.Compensable);
        Assert.Equal(SideEffectClass.Mutating, definition.SideEffect);
    }

    [Fact]
    public void Descriptor_carries_the_metadata_and_schemas_as_json()
    {
        var descriptor = ToolDefinition.For<Flaky>().ToDescriptor();

        Assert.Equal("test.flaky", descriptor.Name);
        Assert.Equal("test.write", descriptor.RequiredScope);
        Assert.Equal(SideEffectClass.Idempotent, descriptor.SideEffect);
        Assert.Equal(1, descriptor.TimeoutSeconds);
        Assert.False(descriptor.Compensable);
        Assert.Equal("string", (string?)JsonNode.Parse(descriptor.InputSchema)!["properties"]!["mode"]!["type"]);
    }

    [Theory]
    [InlineData("{\"times\":2}", "$: JSON deserialization for type")]
    [InlineData("{\"name\":\"Ada\",\"times\":9}", "$.times: The field times must be between 1 and 5.")]
    [InlineData("{\"name\":\"Ada Lovelace the First of Many\"}", "$.name: The field name must be a string or array type with a maximum length of '20'.")]
    [InlineData("{\"name\":\"Ada1\"}", "$.name: The field name must match the regular expression")]
    [InlineData("{\"name\":\"Ada\",\"colour\":\"red\"}", "The JSON property 'colour' could not be mapped")]
    [InlineData("{\"name\":\"Ada\",\"times\":\"2\"}", "$.times:")]
    [InlineData("{\"name\":null}", "$.name:")]
    [InlineData("[1,2]", "$: expected a JSON object, got array.")]
    [InlineData("", "$: the arguments are empty")]
    [InlineData("{\"name\":", "$")]
    public void Invalid_arguments_are_reported_with_their_path(string json, string expected)
    {
        var value = ToolJson.TryParse<GreetInput>(json, out var errors);

        Assert.Null(value);
        Assert.Contains(errors, e => e.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Valid_arguments_parse_with_defaults()
    {
        var value = ToolJson.TryParse<GreetInput>("{\"name\":\"Ada\"}", out var errors);

        Assert.Empty(errors);
        Assert.Equal(new GreetInput("Ada", 1, null), value);
    }

    [Fact]
    public void Arguments_hash_ignores_property_order_and_whitespace_but_not_values()
    {
        var a = ToolJson.ArgumentsHash("{\"name\":\"Ada\",\"times\":2}");
        var b = ToolJson.ArgumentsHash("{ \"times\": 2,\n \"name\": \"Ada\" }");
        var c = ToolJson.ArgumentsHash("{\"name\":\"Ada\",\"times\":3}");

        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void Invalid_tool_classes_are_refused_with_the_reason()
    {
        var noAttribute = Assert.Throws<InvalidOperationException>(() => ToolDefinition.For<NoAttributeTool>());
        Assert.Contains("no [Tool(name, description)] attribute", noAttribute.Message, StringComparison.Ordinal);

        var badName = Assert.Throws<InvalidOperationException>(() => ToolDefinition.For<BadNameTool>());
        Assert.Contains("tool name 'Bad Name' is invalid", badName.Message, StringComparison.Ordinal);

        var noScope = Assert.Throws<InvalidOperationException>(() => ToolDefinition.For<NoScopeTool>());
        Assert.Contains("needs a required scope", noScope.Message, StringComparison.Ordinal);
    }

    public sealed class NoAttributeTool : ITool<FlakyInput, FlakyOutput>
    {
        public Task<FlakyOutput> ExecuteAsync(FlakyInput input, ToolContext context, CancellationToken cancellationToken) => Task.FromResult(new FlakyOutput(input.Mode));
    }

    [Tool("Bad Name", "x", Scope = "s")]
    public sealed class BadNameTool : ITool<FlakyInput, FlakyOutput>
    {
        public Task<FlakyOutput> ExecuteAsync(FlakyInput input, ToolContext context, CancellationToken cancellationToken) => Task.FromResult(new FlakyOutput(input.Mode));
    }

    [Tool("no.scope", "x")]
    public sealed class NoScopeTool : ITool<FlakyInput, FlakyOutput>
    {
        public Task<FlakyOutput> ExecuteAsync(FlakyInput input, ToolContext context, CancellationToken cancellationToken) => Task.FromResult(new FlakyOutput(input.Mode));
    }
}
