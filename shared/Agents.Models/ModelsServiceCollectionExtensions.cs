using Agents.Models.Deterministic;
using Agents.Models.Pipeline;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Agents.Models;

/// <summary>Registration of the platform's model clients.</summary>
public static class ModelsServiceCollectionExtensions
{
    /// <summary>
    /// Registers, for each role in <see cref="ModelRoles"/>, a keyed <see cref="IChatClient"/> built from
    /// <c>Models:{Role}</c> (validated at start) with the platform pipeline (see
    /// <see cref="ModelPipelineExtensions.UseAgentsModelPipeline"/>), plus the price table from <c>Models:Prices</c>.
    /// Resolve with <c>[FromKeyedServices(ModelRoles.Planner)] IChatClient</c>.
    /// </summary>
    public static IHostApplicationBuilder AddAgentsModels(this IHostApplicationBuilder builder)
    {
        builder.Services.AddAgentsModels();
        return builder;
    }

    /// <inheritdoc cref="AddAgentsModels(IHostApplicationBuilder)"/>
    public static IServiceCollection AddAgentsModels(this IServiceCollection services)
    {
        services.AddMetrics();
        services.AddHttpClient();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ModelMetrics>();
        services.TryAddSingleton(sp => new ModelPriceTable(sp.GetRequiredService<IOptions<ModelPricingOptions>>()));

        services.AddOptions<ModelPricingOptions>().BindConfiguration(ModelOptions.SectionPrefix).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ModelPricingOptions>, ModelPricingOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ModelOptions>, ModelOptionsValidator>());

        services.TryAddSingleton<NamedChatClients>();
        foreach (var role in ModelRoles.All)
        {
            services.AddOptions<ModelOptions>(role).BindConfiguration(ModelRoles.SectionOf(role)).ValidateOnStart();
            services.AddKeyedChatClient(role, sp => BuildClient(role, sp));
        }

        return services;
    }

    /// <summary>Registers a responder the deterministic provider consults (see <see cref="IDeterministicResponder"/>).</summary>
    public static IServiceCollection AddDeterministicResponder(this IServiceCollection services, IDeterministicResponder responder)
    {
        services.AddSingleton(responder);
        return services;
    }

    /// <summary>Registers a responder type the deterministic provider consults (resolved as a singleton).</summary>
    public static IServiceCollection AddDeterministicResponder<TResponder>(this IServiceCollection services)
        where TResponder : class, IDeterministicResponder
    {
        services.AddSingleton<IDeterministicResponder, TResponder>();
        return services;
    }

    /// <summary>Registers a responder from a function that returns the response text (JSON when a schema is asked for).</summary>
    public static IServiceCollection AddDeterministicResponder(this IServiceCollection services, string key, Func<DeterministicRequest, string> respond) =>
        services.AddDeterministicResponder(DeterministicResponder.Create(key, respond));

    private static IChatClient BuildClient(string role, IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptionsMonitor<ModelOptions>>().Get(role);
        return new ChatClientBuilder(ModelProviderFactory.Create(role, options, services))
            .UseAgentsModelPipeline(role, options.MaxOutputTokens, options.Temperature)
            .Build(services);
    }
}
