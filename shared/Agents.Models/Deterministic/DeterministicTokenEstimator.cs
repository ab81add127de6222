using Microsoft.Extensions.AI;

namespace Agents.Models.Deterministic;

/// <summary>
/// The deterministic provider's token count: one token per four characters, rounded up. A rough stand-in
/// for a tokenizer, stable across runs, so that budgets and cost accounting work offline.
/// </summary>
public static class DeterministicTokenEstimator
{
    /// <summary>Characters per token.</summary>
    public const int CharactersPerToken = 4;

    /// <summary>Tokens of <paramref name="text"/>.</summary>
    public static int Estimate(string? text) =>
        string.IsNullOrEmpty(text) ? 0 : (text.Length + CharactersPerToken - 1) / CharactersPerToken;

    /// <summary>Input tokens of a call: every message's text, the instructions and the requested schema.</summary>
    public static int EstimateInput(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        var tokens = messages.Sum(m => Estimate(m.Text));
        tokens += Estimate(options?.Instructions);
        if (options?.ResponseFormat is ChatResponseFormatJson { Schema: { } schema })
        {
            tokens += Estimate(schema.GetRawText());
        }

        return tokens;
    }
}
