namespace Agents.Models;

/// <summary>Names of the traces, metrics and attributes the model pipeline emits.</summary>
public static class ModelTelemetry
{
    /// <summary>
    /// Activity source of the GenAI <c>chat {model}</c> spans, and meter of the <c>gen_ai.client.*</c>
    /// metrics and of <see cref="TokensInstrument"/> / <see cref="CostInstrument"/>. Covered by the
    /// <c>Agents.*</c> sources and meters that service defaults subscribe to.
    /// </summary>
    public const string SourceName = "Agents.Models";

    /// <summary>The platform's meter name (same as <see cref="SourceName"/>).</summary>
    public const string MeterName = SourceName;

    /// <summary>Counter of tokens, tagged with <see cref="TokenTypeTag"/> (<c>input</c> or <c>output</c>).</summary>
    public const string TokensInstrument = "agents.model.tokens";

    /// <summary>Counter of cost in the price table's currency units.</summary>
    public const string CostInstrument = "agents.model.cost";

    /// <summary>Span attribute: cost of the call.</summary>
    public const string CostAttribute = "agents.cost";

    /// <summary>Span attribute and metric tag: the role (<see cref="ModelRoles"/>).</summary>
    public const string RoleTag = "agents.model.role";

    /// <summary>Metric tag: the model id (GenAI convention name).</summary>
    public const string ModelTag = "gen_ai.request.model";

    /// <summary>Metric tag: the provider (GenAI convention name).</summary>
    public const string ProviderTag = "gen_ai.provider.name";

    /// <summary>Metric tag on <see cref="TokensInstrument"/>: <c>input</c> or <c>output</c>.</summary>
    public const string TokenTypeTag = "gen_ai.token.type";
}
