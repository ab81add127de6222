using System.Diagnostics;
using System.Text.Json;
using Agents.Messaging.Data;
using Agents.Messaging.TestHost;
using Agents.Messaging.TestHost.Contracts;
using Agents.Testing;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Agents.Messaging.Tests;

/// <summary>A fresh database and queue prefix for one test; drops both on dispose.</summary>
public sealed class TestEnvironment : IAsyncDisposable
{
    private TestEnvironment(TestDatabase database, string prefix)
    {
        Database = database;
        Prefix = prefix;
    }

    public TestDatabase Database { get; }

    public string Prefix { get; }

    public static async Task<TestEnvironment> CreateAsync(string name)
    {
        var database = await TestInfrastructure.CreateDatabaseAsync("msg");
        await MessagingHost.CreateSchemaAsync(database.ConnectionString);
        return new TestEnvironment(database, TestInfrastructure.UniqueName(name));
    }

    public Microsoft.Extensions.Hosting.IHost CreateHost(Action<HostSettings>? configure = null) =>
        MessagingHost.Create(Database.ConnectionString, TestInfrastructure.RabbitMq, Prefix, configure);

    public TestDbContext NewDbContext() =>
        new(new DbContextOptionsBuilder<TestDbContext>().UseNpgsql(Database.ConnectionString).Options);

    /// <summary>
    /// Sends <paramref name="transactions"/> × <paramref name="perTransaction"/> pings to <paramref name="queue"/> through
    /// <paramref name="host"/>'s bus outbox, one scope and commit per transaction; returns their message ids.
    /// </summary>
    public async Task<IReadOnlyList<string>> CommitToSinkAsync(Microsoft.Extensions.Hosting.IHost host, string queue, int transactions, int perTransaction)
    {
        var ids = new List<string>();
        for (var t = 0; t < transactions; t++)
        {
            await using var scope = host.Services.CreateAsyncScope();
            var endpoint = await scope.ServiceProvider.GetRequiredService<ISendEndpointProvider>().GetSendEndpoint(new Uri($"queue:{queue}"));
            for (var i = 0; i < perTransaction; i++)
            {
                var messageId = Guid.NewGuid();
                await endpoint.Send(new Ping(Guid.NewGuid(), DateTime.UtcNow), c => c.MessageId = messageId);
                ids.Add(messageId.ToString());
            }

            await scope.ServiceProvider.GetRequiredService<TestDbContext>().SaveChangesAsync();
        }

        return ids;
    }

    /// <summary>Waits until no outbox row is pending: every row sent (and marked delivered, or deleted).</summary>
    public Task AllSentAsync(TimeSpan within) =>
        Poll.UntilAsync(
            async () =>
            {
                await using var db = NewDbContext();
                return await db.Set<OutboxMessage>().CountAsync(m => m.Delivered == null) == 0;
            },
            within,
            "every outbox row to be sent and settled");

    /// <summary>Starts the test host program as a child process and waits until it reports its commit.</summary>
    public async Task<Process> StartChildAsync(params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Agents.Messaging.TestHost.dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(dll);
        info.ArgumentList.Add(args[0]);
        info.ArgumentList.Add(Database.ConnectionString);
        info.ArgumentList.Add(TestInfrastructure.RabbitMq);
        info.ArgumentList.Add(Prefix);
        foreach (var arg in args.Skip(1))
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            var line = await process.StandardOutput.ReadLineAsync(timeout.Token);
            if (line is null)
            {
                var error = await process.StandardError.ReadToEndAsync(timeout.Token);
                throw new InvalidOperationException($"child host exited before committing: {error}");
            }

            if (line == "COMMITTED")
            {
                return process;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await DeleteBrokerObjectsAsync();
        await Database.DisposeAsync();
    }

    private async Task DeleteBrokerObjectsAsync()
    {
        try
        {
            var vhost = Uri.EscapeDataString(TestInfrastructure.RabbitMqVirtualHost);
            using var http = TestInfrastructure.RabbitMqManagement();
            foreach (var kind in new[] { "queues", "exchanges" })
            {
                using var doc = JsonDocument.Parse(await http.GetStringAsync(new Uri($"api/{kind}/{vhost}?columns=name", UriKind.Relative)));
                foreach (var item in doc.RootElement.EnumerateArray())
                {
                    var name = item.GetProperty("name").GetString()!;
                    if (name.StartsWith(Prefix, StringComparison.Ordinal))
                    {
                        using var _ = await http.DeleteAsync(new Uri($"api/{kind}/{vhost}/{Uri.EscapeDataString(name)}", UriKind.Relative));
                    }
                }
            }
        }
        catch (HttpRequestException)
        {
            // Cleanup is best effort; the unique prefix keeps leftovers from affecting other runs.
        }
    }
}
