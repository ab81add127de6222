namespace Agents.Models;

/// <summary>Which implementation serves a role's model calls.</summary>
public enum ModelProvider
{
    /// <summary>
    /// The offline <see cref="Deterministic.DeterministicChatClient"/>: no network, no keys, same input gives
    /// the same output. It is not a language model and is not intelligent. The default.
    /// </summary>
    Deterministic = 0,

    /// <summary>
    /// Any OpenAI-compatible chat completions endpoint: OpenAI, Azure OpenAI (v1 endpoint), vLLM,
    /// llama.cpp server, Ollama's <c>/v1</c>.
    /// </summary>
    OpenAI = 1,

    /// <summary>Ollama's native API (through OllamaSharp).</summary>
    Ollama = 2,
}
