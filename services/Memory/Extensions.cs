using System.Text.Json.Serialization;
using Agents.Memory.Api;
using Agents.Memory.Consumers;
using Agents.Memory.Data;
using Agents.Memory.Embeddings;
using Agents.Memory.Lifecycle;
using Agents.Memory.Memories;
using Agents.Memory.VectorSearch;
using Agents.Messaging;
using Agents.Messaging.Data;
using Agents.ServiceDefaults;
using Agents.ServiceDefaults.Identity;
using Agents.ServiceDefaults.Messaging;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Npgsql;
using Qdrant.Client;

namespace Agents.Memory;

internal static class Extensions
{
    public static IHostApplicationBuilder AddMemory(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<MemoryOptions>()
            .BindConfiguration(MemoryOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<MemoryOptions>, MemoryOptionsValidator>();

        builder.AddAgentsDatabase();
        builder.AddPrincipalSigning();
        builder.Services.AddMemoryStore();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<BackgroundEmbedder>());
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new JsonStringEnumConverter()));

        builder.Services.AddScoped<ShortTermMemory>();
        builder.Services.AddScoped<ProceduralMemory>();

        // Summaries come from the registered chat model when there is one (the models library), else extractively.
        builder.Services.AddSingleton<IConversationSummarizer>(sp => sp.GetService<IChatClient>() is { } chat
            ? new ChatClientSummarizer(chat)
            : new ExtractiveSummarizer());

        builder.Services.AddSingleton<MemoryCleanupService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<MemoryCleanupService>());

        builder.AddAgentsBus(x =>
        {
            x.AddConsumer<RecallMemoriesConsumer>();
            x.AddConsumer<RememberFactConsumer>();
            x.AddConsumer<MarkSourceStaleConsumer>();
            x.AddAgentsBatchConsumer<TaskRunFinishedConsumer>();
            x.AddAgentsDurableMessaging<MemoryDbContext>();
        });
        return builder;
    }

    /// <summary>
    /// The episodic and semantic store (<see cref="MemoryStore"/>) with everything it needs: the DbContext with
    /// its after-commit hook, embeddings, the query-embedding cache, the vector store and the background
    /// embedder (not started here). Expects an <see cref="NpgsqlDataSource"/>, <see cref="MemoryOptions"/> and logging.
    /// </summary>
    public static IServiceCollection AddMemoryStore(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddScoped<AfterCommit>();
        services.AddDbContext<MemoryDbContext>((sp, options) => options
            .UseNpgsql(sp.GetRequiredService<NpgsqlDataSource>())
            .AddInterceptors(sp.GetRequiredService<AfterCommit>()));
        services.AddMemoryEmbeddings();
        services.AddMemoryVectorStore();
        services.AddSingleton<QueryEmbeddingCache>();
        services.AddSingleton<EmbedderSignal>();
        services.AddSingleton<BackgroundEmbedder>();
        services.AddScoped<MemoryStore>();
        return services;
    }

    public static IServiceCollection AddMemoryVectorStore(this IServiceCollection services)
    {
        services.AddSingleton<PostgresVectorStore>();
        services.AddSingleton(sp =>
        {
            var settings = sp.GetRequiredService<IOptions<MemoryOptions>>().Value.VectorStore;
            return new QdrantClient(settings.QdrantEndpoint!, settings.QdrantApiKey, loggerFactory: sp.GetService<ILoggerFactory>());
        });
        services.AddSingleton<QdrantVectorStore>();
        services.AddSingleton<IVectorStore>(sp => sp.GetRequiredService<IOptions<MemoryOptions>>().Value.VectorStore.Provider switch
        {
            VectorStoreProvider.Qdrant => sp.GetRequiredService<QdrantVectorStore>(),
            _ => sp.GetRequiredService<PostgresVectorStore>(),
        });
        return services;
    }

    public static WebApplication MapMemoryApi(this WebApplication app)
    {
        app.MapMemoryEndpoints();
        return app;
    }

    /// <summary>Applies the EF Core migrations of agents_memory (the <c>migrate</c> command).</summary>
    public static async Task MigrateMemoryDatabaseAsync(this IServiceProvider services, CancellationToken cancellationToken = default)
    {
        await using var scope = services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<MemoryDbContext>().Database.ApplyMigrationsAsync(cancellationToken);
    }
}
