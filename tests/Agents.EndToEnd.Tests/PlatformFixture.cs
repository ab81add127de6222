using System.Reflection;
using Agents.Testing;
using Npgsql;

namespace Agents.EndToEnd.Tests;

/// <summary>
/// The whole platform for one test run: every service and sample tool as a real process, each with its
/// own fresh database, all sharing one RabbitMQ under a unique queue prefix and a fresh signing key, on
/// free ports. Tests talk to it only through the gateway, like a user.
/// </summary>
public class PlatformFixture : IAsyncLifetime
{
    public const string AliceKey = "demo-alice-agent-user-key";
    public const string BobKey = "demo-bob-approver-key";
    public const string CarolKey = "demo-carol-admin-key";
    public const string DaveKey = "acme-dave-agent-user-key";

    /// <summary>An agent user and admin of tenant "mcpco", whose policy the MCP tests write.</summary>
    public const string FrankKey = "mcpco-frank-admin-key";

    /// <summary>The admin of tenant "thrift", which tests give small daily budgets.</summary>
    public const string ErinKey = "thrift-erin-admin-key";

    /// <summary>A platform operator (tenant "ops"): sees every tenant's dead letters.</summary>
    public const string OlgaKey = "ops-olga-operator-key";

    /// <summary>The platform benchmark's key (tenant <c>bench</c>, whose policy the benchmark writes), as in development.</summary>
    public const string BenchKey = "bench-admin-key";

    /// <summary>The gateway also accepts HS256 bearer tokens of this issuer and audience, signed with this test-only key.</summary>
    public const string JwtSigningKey = "end-to-end-tests-jwt-signing-key-0123456789";

    public const string JwtIssuer = "https://idp.agents.test";

    public const string JwtAudience = "agents";

    private static readonly (string Name, string Directory, bool HasDatabase)[] Services =
    [
        ("governance", "services/Governance", true),
        ("memory", "services/Memory", true),
        ("planner", "services/Planner", true),
        ("toolgateway", "services/ToolGateway", true),
        ("executor", "services/Executor", true),
        ("tool-crm", "services/Tools/Crm", true),
        ("tool-tickets", "services/Tools/Tickets", true),
        ("tool-web", "services/Tools/Web", true),
        ("tool-mcp", "services/Tools/Mcp", true),
        ("gateway", "services/Gateway", false),
    ];

    private readonly List<TestDatabase> _databases = [];
    private readonly Dictionary<string, ServiceProcess> _processes = [];
    private readonly Dictionary<string, (ServiceDefinition Definition, Dictionary<string, string> Environment)> _environments = [];

    public string QueuePrefix { get; } = TestInfrastructure.UniqueName("e2e");

    /// <summary>The folder the MCP filesystem server of tool-mcp may read and write.</summary>
    public string McpFiles { get; } = Directory.CreateTempSubdirectory("agents-e2e-mcp-").FullName;

    public IReadOnlyDictionary<string, ServiceProcess> Processes => _processes;

    public IReadOnlyDictionary<string, string> DatabaseConnections { get; private set; } = new Dictionary<string, string>();

    public Uri GatewayAddress => _processes["gateway"].BaseAddress;

    /// <summary>The trace UI the console links task trace ids to (no trace UI runs here; the link is what is checked).</summary>
    public const string TraceUiUrl = "http://127.0.0.1:16686/trace/{traceId}";

    /// <summary>
    /// Settings of one service for this run, as environment variables; <c>{port}</c> stands for the
    /// service's own port. A derived fixture adds its own (fault injection, thresholds).
    /// </summary>
    protected virtual void Configure(string service, IDictionary<string, string> settings)
    {
        switch (service)
        {
            case "gateway":
                string[][] keys =
                [
                    ["46d0a5451ee3765515225772afa4dbcac7734012d79c544a86ec27787b701a4e", "demo", "alice", "agent-user"],
                    ["f917674b421eedb0c7f64a9b64b73a09073afcb438b88160e3525ac5ef9e943f", "demo", "bob", "agent-user,approver"],
                    ["5945677e72100251d17b5827ecc73c3ab5e004de600184bb15b8dfbd70434798", "demo", "carol", "agent-user,approver,admin"],
                    ["853903ce28b9b2127d0ffa55705a3ca1f3dbb08addaa285f650d947506e64f01", "acme", "dave", "agent-user"],
                    ["01b051e124f0e798e8176b6efe3fc0112e8b0b945e70b807dfe83758260973df", "thrift", "erin", "agent-user,admin"],
                    [Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(FrankKey))), "mcpco", "frank", "agent-user,admin"],
                    [Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(OlgaKey))), "ops", "olga", "platform-operator"],
                    [Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(BenchKey))), "bench", "bench", "agent-user,admin"],
                ];
                for (var i = 0; i < keys.Length; i++)
                {
                    settings[$"Gateway__ApiKeys__{i}__KeyHash"] = keys[i][0];
                    settings[$"Gateway__ApiKeys__{i}__Tenant"] = keys[i][1];
                    settings[$"Gateway__ApiKeys__{i}__User"] = keys[i][2];
                    var roles = keys[i][3].Split(',');
                    for (var r = 0; r < roles.Length; r++)
                    {
                        settings[$"Gateway__ApiKeys__{i}__Roles__{r}"] = roles[r];
                    }
                }

                settings["Gateway__Console__TraceUrl"] = TraceUiUrl;
                settings["Gateway__Jwt__SigningKey"] = JwtSigningKey;
                settings["Gateway__Jwt__Issuer"] = JwtIssuer;
                settings["Gateway__Jwt__Audience"] = JwtAudience;
                break;
            case "tool-web":
                settings["WebFetch__Allowlist__0"] = "http://127.0.0.1:{port}/kb/";
                break;
            case "governance":
                // Queue depths (work, _error) every 2 s instead of 30 s, so that a test sees a dead letter in the metrics soon.
                settings["Messaging__QueueMetrics__Interval"] = "00:00:02";
                break;
            case "tool-mcp":
                // The real MCP servers from npm (infra/mcp-servers.sh installs them, pinned).
                settings["Mcp__Servers__everything__Command"] = McpServers.Executable("mcp-server-everything");
                settings["Mcp__Servers__everything__Arguments__0"] = "stdio";
                settings["Mcp__Servers__filesystem__Command"] = McpServers.Executable("mcp-server-filesystem");
                settings["Mcp__Servers__filesystem__Arguments__0"] = McpFiles;
                settings["Mcp__Servers__filesystem__Scope"] = "files.write";
                break;
        }
    }

    /// <summary>The URL of a knowledge-base article served by the web tool of this run.</summary>
    public string KnowledgeBaseUrl(string article) => $"{_processes["tool-web"].BaseAddress}kb/{article}";

    public HttpClient CreateClient(string apiKey)
    {
        var client = new HttpClient { BaseAddress = GatewayAddress, Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
        return client;
    }

    public async Task InitializeAsync()
    {
        var root = RepositoryRoot();
        var configuration = typeof(PlatformFixture).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .First(a => a.Key == "BuildConfiguration").Value!;
        var signingKey = Convert.ToHexString(Guid.NewGuid().ToByteArray()) + Convert.ToHexString(Guid.NewGuid().ToByteArray());
        var definitions = new List<ServiceDefinition>();
        var connections = new Dictionary<string, string>();
        foreach (var (name, directory, hasDatabase) in Services)
        {
            var dir = Path.Combine(root, directory);
            var project = Directory.Exists(dir) ? Directory.GetFiles(dir, "*.csproj").FirstOrDefault() : null;
            if (project is null)
            {
                continue;
            }

            var dll = Path.Combine(dir, "bin", configuration, "net10.0", Path.GetFileNameWithoutExtension(project) + ".dll");
            if (!File.Exists(dll))
            {
                throw new InvalidOperationException($"{dll} is missing: build the solution first (./dev.sh test does).");
            }

            string? database = null;
            if (hasDatabase)
            {
                var db = await TestInfrastructure.CreateDatabaseAsync("e2e_" + name.Replace('-', '_'));
                _databases.Add(db);
                database = db.ConnectionString;
                connections[name] = database;
            }

            definitions.Add(new ServiceDefinition(name, dll, TestInfrastructure.ClosedPort(), database));
        }

        DatabaseConnections = connections;
        var ports = definitions.ToDictionary(d => d.Name, d => d.Port);
        foreach (var definition in definitions)
        {
            var environment = new Dictionary<string, string>
            {
                ["ASPNETCORE_ENVIRONMENT"] = "Production",
                ["DOTNET_ENVIRONMENT"] = "Production",
                ["ConnectionStrings__RabbitMq"] = TestInfrastructure.RabbitMq,
                ["Messaging__QueuePrefix"] = QueuePrefix,
                ["Identity__SigningKey"] = signingKey,
                ["Logging__LogLevel__Default"] = "Warning",
            };
            if (definition.Database is not null)
            {
                environment["ConnectionStrings__Postgres"] = definition.Database;
            }

            if (definition.Name == "gateway")
            {
                foreach (var cluster in new[] { "executor", "planner", "toolgateway", "memory", "governance" })
                {
                    if (ports.TryGetValue(cluster, out var port))
                    {
                        environment[$"ReverseProxy__Clusters__{cluster}__Destinations__{cluster}-1__Address"] = $"http://127.0.0.1:{port}/";
                    }
                }

                foreach (var tool in new[] { "tool-crm", "tool-tickets", "tool-web", "tool-mcp" })
                {
                    environment[$"Gateway__ToolHosts__{tool}"] = ports.TryGetValue(tool, out var port)
                        ? $"http://127.0.0.1:{port}/"
                        : $"http://127.0.0.1:{TestInfrastructure.ClosedPort()}/";
                }
            }

            var extra = new Dictionary<string, string>();
            Configure(definition.Name, extra);
            foreach (var (key, value) in extra)
            {
                environment[key] = value.Replace("{port}", definition.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
            }

            _processes[definition.Name] = new ServiceProcess(definition, environment);
            _environments[definition.Name] = (definition, environment);
        }

        await Task.WhenAll(_processes.Values.Where(p => p.Name != "gateway").Select(p => p.MigrateAsync(CancellationToken.None)));
        foreach (var process in _processes.Values)
        {
            process.Start();
        }

        foreach (var process in _processes.Values)
        {
            await process.WaitUntilReadyAsync(TimeSpan.FromSeconds(120));
        }

        string[] tools = ["crm.lookup-customer", "tickets.create", "web.fetch"];
        await WaitForToolsAsync(_processes.ContainsKey("tool-mcp") ? [.. tools, "mcp.everything.echo", "mcp.filesystem.write_file"] : tools, TimeSpan.FromSeconds(90));
    }

    /// <summary>Ready also means the tool registry knows the sample tools (they announce themselves; an admin sees every tool).</summary>
    private async Task WaitForToolsAsync(string[] tools, TimeSpan within)
    {
        using var client = CreateClient(CarolKey);
        var listed = string.Empty;
        await Poll.UntilAsync(
            async () =>
            {
                using var response = await client.GetAsync(new Uri("api/tools", UriKind.Relative));
                listed = await response.Content.ReadAsStringAsync();
                return response.IsSuccessStatusCode && tools.All(t => listed.Contains($"\"{t}\"", StringComparison.Ordinal));
            },
            () => $"the tool registry to list {string.Join(", ", tools)} (it lists: {listed})",
            within,
            TimeSpan.FromMilliseconds(250));
    }

    /// <summary>
    /// Submits the demo's triage task (lookup, knowledge base, draft, then a ticket). With the default article, the page that
    /// hides instructions to AI agents, the ticket waits at the approval gate; with a plain article it opens on its own.
    /// </summary>
    public Task<Guid> SubmitTriageAsync(HttpClient client, string customerId = "C-1001", string article = "outage-status") => TaskClient.SubmitAsync(client, new
    {
        template = "triage-customer-issue",
        parameters = new Dictionary<string, string>
        {
            ["customerId"] = customerId,
            ["question"] = "I cannot log in since yesterday",
            ["article"] = KnowledgeBaseUrl(article),
        },
    });

    /// <summary>Tickets the tickets tool holds for a task (open or cancelled).</summary>
    public async Task<int> TicketsOfAsync(Guid taskId)
    {
        await using var connection = new NpgsqlConnection(DatabaseConnections["tool-tickets"]);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM tickets WHERE task_id = @task", connection);
        command.Parameters.AddWithValue("task", taskId);
        return Convert.ToInt32(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>How many times tickets.create really executed for the task, from the tool's own ledger.</summary>
    public async Task<int> TicketExecutionsAsync(Guid taskId)
    {
        await using var connection = new NpgsqlConnection(DatabaseConnections["tool-tickets"]);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT COALESCE(SUM(executions), 0) FROM tool_ledger WHERE tool = 'tickets.create' AND operation = 'execute' AND idempotency_key LIKE @key",
            connection);
        command.Parameters.AddWithValue("key", $"{taskId:N}%");
        return Convert.ToInt32(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Starts one more replica of a service: same database, broker, queues and settings, its own port (the gateway
    /// still routes HTTP to the first). The caller disposes it, which stops it.
    /// </summary>
    public async Task<ServiceProcess> StartReplicaAsync(string name)
    {
        var (definition, environment) = _environments[name];
        var replica = new ServiceProcess(definition with { Port = TestInfrastructure.ClosedPort() }, environment);
        replica.Start();
        await replica.WaitUntilReadyAsync(TimeSpan.FromSeconds(120));
        return replica;
    }

    /// <summary>Kills a service (SIGKILL, as in a crash) and starts it again on the same port and database.</summary>
    public async Task RestartAsync(string name, Func<Task>? whileDown = null)
    {
        var process = _processes[name];
        await process.KillAsync();
        if (whileDown is not null)
        {
            await whileDown();
        }

        process.Start();
        await process.WaitUntilReadyAsync(TimeSpan.FromSeconds(120));
    }

    public virtual async Task DisposeAsync()
    {
        foreach (var process in _processes.Values)
        {
            await process.DisposeAsync();
        }

        foreach (var database in _databases)
        {
            await database.DisposeAsync();
        }

        Directory.Delete(McpFiles, recursive: true);
    }

    internal static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Agents.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("Agents.sln not found above " + AppContext.BaseDirectory);
    }
}
