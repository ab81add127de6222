using System.Collections.Concurrent;
using Agents.Models.Pipeline;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;

namespace Agents.Models;

/// <summary>
/// Models configured by name under <c>Models:Named:{name}</c> (the same settings as a role's), besides a role's own: a
/// template's model step or a what-if replay names one to run with it instead of the executor's model. Each is built on
/// first use with the platform pipeline (output cap, telemetry, usage and cost, as the executor's role) and kept.
/// </summary>
public sealed class NamedChatClients(IConfiguration configuration, IServiceProvider services)
{
    /// <summary>The configuration section holding the named models.</summary>
    public const string Section = ModelOptions.SectionPrefix + ":Named";

    private readonly ConcurrentDictionary<string, Lazy<IChatClient?>> _clients = new(StringComparer.Ordinal);

    /// <summary>The names configured, in order.</summary>
    public IReadOnlyList<string> Names => [.. configuration.GetSection(Section).GetChildren().Select(c => c.Key).Order(StringComparer.Ordinal)];

    /// <summary>
    /// The client of the model configured as <paramref name="name"/>, or null when none is (an unknown name is not
    /// remembered). A configured model whose settings are invalid throws <see cref="InvalidOperationException"/> naming
    /// the setting. Settings are read when the model is first used; a change takes a restart.
    /// </summary>
    public IChatClient? Get(string name) =>
        _clients.TryGetValue(name, out var known) ? known.Value
        : SectionOf(name) is null ? null
        : _clients.GetOrAdd(name, n => new Lazy<IChatClient?>(() => Build(n))).Value;

    /// <summary>
    /// True when <paramref name="tenant"/> may run steps on the model named <paramref name="name"/>: it is configured, and
    /// its <c>Tenants</c> list (when it has one) names the tenant. A model without the list is open to every tenant.
    /// </summary>
    public bool Allows(string name, string tenant)
    {
        if (SectionOf(name) is not { } section)
        {
            return false;
        }

        var tenants = section.GetSection("Tenants").GetChildren().Select(c => c.Value).OfType<string>().ToList();
        return tenants.Count == 0 || tenants.Contains(tenant, StringComparer.Ordinal);
    }

    /// <summary>The model id the named model calls (for its price), or null when no model has that name.</summary>
    public string? ModelIdOf(string name) => OptionsOf(name)?.EffectiveModel;

    private IConfigurationSection? SectionOf(string name) =>
        configuration.GetSection(Section).GetChildren().FirstOrDefault(c => string.Equals(c.Key, name, StringComparison.Ordinal));

    private ModelOptions? OptionsOf(string name)
    {
        if (SectionOf(name) is not { } section)
        {
            return null;
        }

        var options = new ModelOptions();
        section.Bind(options);
        return options;
    }

    private IChatClient? Build(string name)
    {
        if (OptionsOf(name) is not { } options)
        {
            return null;
        }

        var errors = ModelOptionsValidator.Errors($"{Section}:{name}", options).ToList();
        if (errors.Count > 0)
        {
            throw new InvalidOperationException(string.Join(" ", errors));
        }

        return new ChatClientBuilder(ModelProviderFactory.Create(ModelRoles.Executor, options, services))
            .UseAgentsModelPipeline(ModelRoles.Executor, options.MaxOutputTokens, options.Temperature)
            .Build(services);
    }
}
