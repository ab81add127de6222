using System.Diagnostics.Metrics;

namespace Agents.Models;

/// <summary>The <c>Agents.Models</c> meter: <c>agents.model.tokens</c> and <c>agents.model.cost</c>.</summary>
public sealed class ModelMetrics
{
    private readonly Counter<long> _tokens;
    private readonly Counter<double> _cost;

    /// <summary>Creates the instruments on a meter from <paramref name="meterFactory"/>.</summary>
    public ModelMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(ModelTelemetry.MeterName);
        _tokens = meter.CreateCounter<long>(ModelTelemetry.TokensInstrument, "{token}", "Tokens used by model calls.");
        _cost = meter.CreateCounter<double>(ModelTelemetry.CostInstrument, "{currency}", "Cost of model calls, from the price table.");
    }

    /// <summary>Records one call's tokens and cost.</summary>
    public void Record(ModelUsage usage)
    {
        var role = new KeyValuePair<string, object?>(ModelTelemetry.RoleTag, usage.Role);
        var model = new KeyValuePair<string, object?>(ModelTelemetry.ModelTag, usage.Model);
        var provider = new KeyValuePair<string, object?>(ModelTelemetry.ProviderTag, usage.Provider);
        _tokens.Add(usage.InputTokens, role, model, provider, new(ModelTelemetry.TokenTypeTag, "input"));
        _tokens.Add(usage.OutputTokens, role, model, provider, new(ModelTelemetry.TokenTypeTag, "output"));
        _cost.Add((double)usage.Cost, role, model, provider);
    }
}
