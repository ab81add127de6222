using Agents.ServiceDefaults.Configuration;
using Agents.ServiceDefaults.Messaging;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Options;

namespace Agents.ServiceDefaults.Tests;

[Trait("Category", "Unit")]
public sealed class OptionsValidationTests
{
    [Theory]
    [InlineData("amqp://u:p@rabbit.internal:5673/prod", "rabbit.internal", 5673, "prod", "u", "p", false)]
    [InlineData("amqps://u:p%40ss@rabbit:5671/", "rabbit", 5671, "/", "u", "p@ss", true)]
    [InlineData("amqp://127.0.0.1", "127.0.0.1", 5672, "/", "guest", "guest", false)]
    public void Rabbitmq_uri_is_parsed(string uri, string host, int port, string vhost, string user, string password, bool tls)
    {
        var endpoint = ConnectionStrings.ParseRabbitMq(uri);

        Assert.Equal(new RabbitMqEndpoint(host, (ushort)port, vhost, user, password, tls), endpoint);
    }

    [Theory]
    [InlineData(null, "ConnectionStrings:RabbitMq is missing")]
    [InlineData("", "ConnectionStrings:RabbitMq is missing")]
    [InlineData("localhost:5672", "ConnectionStrings:RabbitMq is not a valid AMQP URI")]
    [InlineData("http://u:secret@host/", "ConnectionStrings:RabbitMq is not a valid AMQP URI")]
    public void Bad_rabbitmq_uri_is_explained_naming_the_setting(string? uri, string expected)
    {
        var error = ConnectionStrings.TryParseRabbitMq(uri, ConnectionStrings.RabbitMqKey, out _);

        Assert.NotNull(error);
        Assert.StartsWith(expected, error, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, "ConnectionStrings:Postgres is missing")]
    [InlineData("Host=127.0.0.1;Bogus Key=1", "ConnectionStrings:Postgres is not a valid PostgreSQL connection string")]
    [InlineData("Database=x", "ConnectionStrings:Postgres has no Host")]
    [InlineData("Host=127.0.0.1", "ConnectionStrings:Postgres has no Database")]
    public void Bad_postgres_connection_string_is_explained_naming_the_setting(string? value, string expected)
    {
        var error = ConnectionStrings.ValidatePostgres(value);

        Assert.NotNull(error);
        Assert.StartsWith(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Good_postgres_connection_string_passes()
    {
        Assert.Null(ConnectionStrings.ValidatePostgres("Host=127.0.0.1;Port=5432;Database=agents;Username=agents;Password=agents"));
    }

    [Theory]
    [InlineData("Messaging:PrefetchCount", "0", "Messaging:PrefetchCount must be between 1 and 65535.")]
    [InlineData("Messaging:QueuePrefix", "Bad_Prefix", "Messaging:QueuePrefix 'Bad_Prefix' may contain only")]
    [InlineData("Messaging:Retry:Limit", "99", "Messaging:Retry:Limit must be between 0 and 20.")]
    [InlineData("ConnectionStrings:RabbitMq", "not a uri", "ConnectionStrings:RabbitMq is not a valid AMQP URI")]
    [InlineData("ConnectionStrings:Postgres", "", "ConnectionStrings:Postgres is missing")]
    public async Task A_host_with_a_bad_setting_does_not_start_and_names_the_setting(string key, string value, string expected)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Configuration["ConnectionStrings:RabbitMq"] = "amqp://agents:agents@127.0.0.1:5672/";
        builder.Configuration["ConnectionStrings:Postgres"] = "Host=127.0.0.1;Database=x;Username=agents;Password=agents";
        builder.Configuration[key] = value;
        builder.Configuration["Urls"] = "http://127.0.0.1:0";
        builder.AddServiceDefaults();
        builder.AddAgentsDatabase();
        builder.AddAgentsBus();
        await using var app = builder.Build();

        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }
}
