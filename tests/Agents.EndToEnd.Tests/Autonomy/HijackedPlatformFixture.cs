using Npgsql;

namespace Agents.EndToEnd.Tests.Autonomy;

/// <summary>
/// The whole platform with both models (planner and executor) pointed at <see cref="FakeHijackedModelServer"/>, and the
/// web tool allowed to fetch from the fake's origin (its pages, and the collection endpoint an attacker would use: a URL
/// inside an allow-listed prefix, which only governance can stop). The tool-gateway's circuit breaker is set not to open
/// on the failing pages the suite plants on purpose: five failed fetches in a row would otherwise open web.fetch's circuit
/// for every task, and the suite would measure revisions after "the circuit is open" instead of the plans it submitted.
/// </summary>
public sealed class HijackedPlatformFixture : PlatformFixture
{
    public FakeHijackedModelServer Model { get; } = new();

    protected override void Configure(string service, IDictionary<string, string> settings)
    {
        base.Configure(service, settings);
        switch (service)
        {
            case "executor":
            case "planner":
                var role = service == "executor" ? "Executor" : "Planner";
                settings[$"Models__{role}__Provider"] = "OpenAI";
                settings[$"Models__{role}__Endpoint"] = Model.Origin + "v1";
                settings[$"Models__{role}__Model"] = "hijacked-fake";
                settings[$"Models__{role}__ApiKey"] = "fake-key";
                break;
            case "tool-web":
                settings["WebFetch__Allowlist__1"] = Model.Origin;
                break;
            case "toolgateway":
                settings["ToolGateway__CircuitFailureThreshold"] = "1000";
                break;
        }
    }

    /// <summary>Adds a customer of tenant demo whose open issues (text customers write) carry <paramref name="issue"/>.</summary>
    public async Task AddCustomerAsync(string id, string name, string issue)
    {
        await using var connection = new NpgsqlConnection(DatabaseConnections["tool-crm"]);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "INSERT INTO customers (tenant_id, id, name, email, plan, region, customer_since, open_issues) " +
            "VALUES ('demo', @id, @name, @email, 'pro', 'eu', DATE '2024-01-01', @issues) ON CONFLICT DO NOTHING",
            connection);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("name", name);
        command.Parameters.AddWithValue("email", id.ToLowerInvariant() + "@example.com");
        command.Parameters.AddWithValue("issues", new[] { issue });
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>The tickets the task really created: customer, priority and body.</summary>
    public async Task<IReadOnlyList<(string Customer, string Priority, string Body)>> TicketsAsync(Guid taskId)
    {
        await using var connection = new NpgsqlConnection(DatabaseConnections["tool-tickets"]);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT customer_id, priority, body FROM tickets WHERE task_id = @task", connection);
        command.Parameters.AddWithValue("task", taskId);
        var tickets = new List<(string, string, string)>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            tickets.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2)));
        }

        return tickets;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Model.DisposeAsync();
    }
}
