using System.Net;
using System.Text.Json;
using Agents.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Npgsql;

namespace Agents.ServiceDefaults.Tests;

/// <summary>
/// A request that fails because the database did not answer in time is a 503 with <c>Retry-After</c> (load), not a 500;
/// on the real PostgreSQL, with a query that outlasts its command timeout.
/// </summary>
[Trait("Category", "Infrastructure")]
public sealed class UnavailableAnswerTests : IAsyncLifetime
{
    private DefaultsHost host = null!;

    public async Task InitializeAsync() => host = await DefaultsHost.StartAsync(app =>
    {
        app.MapGet("/slow-query", async (CancellationToken cancellationToken) =>
        {
            await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(TestInfrastructure.PostgresServer) { CommandTimeout = 1 }.ConnectionString);
            await connection.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand("SELECT pg_sleep(10)", connection);
            await command.ExecuteNonQueryAsync(cancellationToken);
            return Results.Ok();
        });
        app.MapGet("/broken-query", async (CancellationToken cancellationToken) =>
        {
            await using var connection = new NpgsqlConnection(TestInfrastructure.PostgresServer);
            await connection.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand("SELECT * FROM no_such_table_anywhere", connection);
            await command.ExecuteNonQueryAsync(cancellationToken);
            return Results.Ok();
        });
        app.MapMethods("/wrapped-timeout", [HttpMethods.Get, HttpMethods.Post], () =>
        {
            throw new InvalidOperationException("An exception has been raised that is likely due to a transient failure.", new TimeoutException("The operation has timed out."));
        });
    });

    public async Task DisposeAsync() => await host.DisposeAsync();

    [Theory]
    [InlineData("/slow-query", "NpgsqlException")]
    [InlineData("/wrapped-timeout", "TimeoutException")]
    public async Task A_dependency_that_did_not_answer_in_time_is_503_with_retry_after(string route, string cause)
    {
        using var response = await host.Client.GetAsync(new Uri(route, UriKind.Relative));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(2), response.Headers.RetryAfter?.Delta);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(ProblemTypes.Unavailable, problem.RootElement.GetProperty("type").GetString());
        Assert.Equal(503, problem.RootElement.GetProperty("status").GetInt32());
        Assert.Contains(cause, problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_write_that_timed_out_tells_the_client_it_may_have_been_saved_and_how_to_repeat_it_safely()
    {
        using var write = await host.Client.PostAsync(new Uri("/wrapped-timeout", UriKind.Relative), null);
        using var read = await host.Client.GetAsync(new Uri("/wrapped-timeout", UriKind.Relative));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, write.StatusCode);
        Assert.Contains("Idempotency-Key", await DetailAsync(write), StringComparison.Ordinal);
        Assert.DoesNotContain("Idempotency-Key", await DetailAsync(read), StringComparison.Ordinal);

        static async Task<string> DetailAsync(HttpResponseMessage response)
        {
            using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            return problem.RootElement.GetProperty("detail").GetString()!;
        }
    }

    [Fact]
    public async Task A_database_error_that_is_not_transient_stays_a_500()
    {
        using var response = await host.Client.GetAsync(new Uri("/broken-query", UriKind.Relative));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Null(response.Headers.RetryAfter);
    }
}
