using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Options;

namespace Agents.Models;

/// <summary>The price of one model, per million tokens, in the platform's currency units.</summary>
public sealed class ModelPrice
{
    /// <summary>
    /// The model id this price applies to, when it differs from the entry's key. Needed for ids that
    /// contain a colon (<c>llama3.1:8b</c>), which a configuration key cannot hold:
    /// <c>Models:Prices:llama-8b:Model = llama3.1:8b</c>.
    /// </summary>
    public string? Model { get; set; }

    /// <summary>Price of one million input (prompt) tokens.</summary>
    public decimal InputPerMillion { get; set; }

    /// <summary>Price of one million output (completion) tokens.</summary>
    public decimal OutputPerMillion { get; set; }

    /// <summary>The cost of a call with the given token counts.</summary>
    public decimal CostOf(long inputTokens, long outputTokens) =>
        ((inputTokens * InputPerMillion) + (outputTokens * OutputPerMillion)) / 1_000_000m;
}

/// <summary>The price table, bound from <c>Models:Prices:&lt;model&gt;</c>.</summary>
public sealed class ModelPricingOptions
{
    /// <summary>Prices by model id (or by an alias whose <see cref="ModelPrice.Model"/> names the model).</summary>
    public Dictionary<string, ModelPrice> Prices { get; set; } = new(StringComparer.OrdinalIgnoreCase);
}

internal sealed class ModelPricingOptionsValidator : IValidateOptions<ModelPricingOptions>
{
    public ValidateOptionsResult Validate(string? name, ModelPricingOptions options)
    {
        var errors = new List<string>();
        foreach (var (key, price) in options.Prices)
        {
            var section = $"{ModelOptions.SectionPrefix}:Prices:{key}";
            if (price.InputPerMillion < 0)
            {
                errors.Add($"{section}:InputPerMillion must not be negative (was {price.InputPerMillion}).");
            }

            if (price.OutputPerMillion < 0)
            {
                errors.Add($"{section}:OutputPerMillion must not be negative (was {price.OutputPerMillion}).");
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>
/// Looks up prices by model id. A model missing from the table costs 0 and is reported as unpriced
/// (<see cref="ModelUsage.Priced"/> is false), so a missing price is visible rather than silently cheap.
/// </summary>
public sealed class ModelPriceTable
{
    private readonly Dictionary<string, ModelPrice> _prices = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Builds the table from configuration (<c>Models:Prices</c>).</summary>
    public ModelPriceTable(IOptions<ModelPricingOptions> options)
        : this(options.Value.Prices)
    {
    }

    /// <summary>Builds the table from entries keyed by model id (or alias, see <see cref="ModelPrice.Model"/>).</summary>
    public ModelPriceTable(IEnumerable<KeyValuePair<string, ModelPrice>> prices)
    {
        foreach (var (key, price) in prices)
        {
            _prices[string.IsNullOrWhiteSpace(price.Model) ? key : price.Model] = price;
        }
    }

    /// <summary>A table with no prices: every call costs 0 and is unpriced.</summary>
    public static ModelPriceTable Empty { get; } = new([]);

    /// <summary>Finds the price of <paramref name="model"/>; false when the table has none.</summary>
    public bool TryGetPrice(string? model, [NotNullWhen(true)] out ModelPrice? price)
    {
        if (!string.IsNullOrEmpty(model) && _prices.TryGetValue(model, out var found))
        {
            price = found;
            return true;
        }

        price = null;
        return false;
    }
}
