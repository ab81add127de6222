using Agents.Models.Deterministic;

namespace Agents.Models;

/// <summary>
/// Settings of one role's model, bound from <c>Models:Planner</c> or <c>Models:Executor</c>
/// (named options; the name is the role, see <see cref="ModelRoles"/>).
/// </summary>
public sealed class ModelOptions
{
    /// <summary>The configuration section holding every model setting.</summary>
    public const string SectionPrefix = "Models";

    /// <summary>Model id used by the deterministic provider when <see cref="Model"/> is not set.</summary>
    public const string DeterministicModelId = "deterministic";

    /// <summary>Which provider serves the role. Defaults to <see cref="ModelProvider.Deterministic"/>.</summary>
    public ModelProvider Provider { get; set; } = ModelProvider.Deterministic;

    /// <summary>
    /// Base address of the provider: for OpenAI-compatible servers the URL that ends before
    /// <c>/chat/completions</c> (e.g. <c>https://api.openai.com/v1</c>, <c>http://127.0.0.1:11434/v1</c>);
    /// for Ollama the server root (e.g. <c>http://127.0.0.1:11434</c>). Required for OpenAI and Ollama.
    /// </summary>
    public string? Endpoint { get; set; }

    /// <summary>API key for OpenAI-compatible endpoints. Optional: local servers (vLLM, llama.cpp, Ollama) need none.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Model id sent to the provider. Required for OpenAI and Ollama; <c>deterministic</c> by default otherwise.</summary>
    public string? Model { get; set; }

    /// <summary>Upper bound on output tokens of every call; a caller may ask for fewer, never more.</summary>
    public int MaxOutputTokens { get; set; } = 1024;

    /// <summary>Sampling temperature used when the caller sets none (0 to 2). Unset leaves the provider's default.</summary>
    public float? Temperature { get; set; }

    /// <summary>HTTP timeout of one call to the provider, in seconds (1 to 3600).</summary>
    public int TimeoutSeconds { get; set; } = 100;

    /// <summary>Failure and latency injection for the deterministic provider (<c>Models:{Role}:Deterministic</c>).</summary>
    public DeterministicModelSettings Deterministic { get; set; } = new();

    /// <summary>The model id in effect: <see cref="Model"/>, or <c>deterministic</c> for the deterministic provider.</summary>
    public string EffectiveModel =>
        string.IsNullOrWhiteSpace(Model) && Provider == ModelProvider.Deterministic ? DeterministicModelId : Model ?? string.Empty;
}
