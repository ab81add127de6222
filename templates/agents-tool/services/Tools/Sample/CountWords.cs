using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using Agents.Contracts;
using Agents.Tools.Sdk;

namespace Agents.Tools.Sample;

/// <summary>The arguments (their JSON schema is generated from this record).</summary>
public sealed record CountWordsInput(
    [property: Description("The text whose words to count.")]
    [property: MaxLength(10000)] string Text);

/// <summary>The output.</summary>
public sealed record CountWordsOutput(int Words, int Characters);

/// <summary>Replace with your tool: keep the attribute's name, scope and side-effect class true to what it does.</summary>
[Tool("sample.count-words", "Counts the words and characters of a text.",
    SideEffect = SideEffectClass.ReadOnly, Risk = RiskTier.Low, Scope = "sample.read", TimeoutSeconds = 10)]
public sealed class CountWords : ITool<CountWordsInput, CountWordsOutput>
{
    public Task<CountWordsOutput> ExecuteAsync(CountWordsInput input, ToolContext context, CancellationToken cancellationToken) =>
        Task.FromResult(new CountWordsOutput(
            input.Text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length,
            input.Text.Length));
}
