using System.Text.Json;
using System.Text.Json.Nodes;
using Agents.Contracts;
using Agents.Tools.Sdk;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Agents.Tools.Mcp;

/// <summary>
/// The client session with one MCP server, (re)connected on demand: a server that stopped is started
/// (stdio) or reached (HTTP) again by the next call or listing. Tells its listener when the server's
/// tool list changed (<c>notifications/tools/list_changed</c>) or the session ended.
/// </summary>
internal sealed class McpServerConnection(string name, McpServerOptions options, ILoggerFactory loggers) : IAsyncDisposable
{
    private readonly SemaphoreSlim gate = new(1, 1);
    private readonly SemaphoreSlim changes = new(0, 1);
    private McpClient? client;
    private IAsyncDisposable? subscription;

    public string Name => name;

    public McpServerOptions Options => options;

    /// <summary>The server's version, once connected.</summary>
    public string? ServerVersion => client?.ServerInfo?.Version;

    /// <summary>The connected session, connecting first when there is none or the last one ended.</summary>
    public async Task<McpClient> ClientAsync(CancellationToken cancellationToken)
    {
        await gate.WaitAsync(cancellationToken);
        try
        {
            if (client is { Completion.IsCompleted: false })
            {
                return client;
            }

            await CloseAsync();
            client = await McpClient.CreateAsync(Transport(), new McpClientOptions
            {
                ClientInfo = new Implementation { Name = "agents-tool-mcp", Version = typeof(McpServerConnection).Assembly.GetName().Version?.ToString(3) ?? "1.0.0" },
            }, loggers, cancellationToken);
            subscription = client.RegisterNotificationHandler(NotificationMethods.ToolListChangedNotification, (_, _) =>
            {
                Signal();
                return ValueTask.CompletedTask;
            });
            return client;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Completes when the server's tool list changed or its session ended (then the next call reconnects).</summary>
    public async Task WaitForChangeAsync(McpClient session, CancellationToken cancellationToken)
    {
        // The wait for a change is given up when the session ends first: left waiting, it would take the next
        // session's first tools/list_changed signal, and that change would never be listed.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var changed = changes.WaitAsync(stop.Token);
        if (await Task.WhenAny(changed, session.Completion) != changed)
        {
            await stop.CancelAsync();
            try
            {
                await changed;
            }
            catch (OperationCanceledException)
            {
                // Given up, as intended (a signal that won the race was taken, which is fine: the tools are listed next).
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
    }

    /// <summary>The server's tools (every page).</summary>
    public async Task<IList<McpClientTool>> ListToolsAsync(McpClient session, CancellationToken cancellationToken) =>
        await session.ListToolsAsync(cancellationToken: cancellationToken);

    /// <summary>
    /// Calls <paramref name="tool"/>. A server that cannot be reached is a transient failure (nothing was
    /// called). A server that stops during the call fails per the tool's class: a read-only or idempotent
    /// tool transiently (running it again is safe), a mutating one permanently (its effect is unknown).
    /// An error answered by the server or the tool is permanent.
    /// </summary>
    public async Task<JsonNode> CallAsync(string tool, SideEffectClass sideEffect, JsonElement input, CancellationToken cancellationToken)
    {
        McpClient session;
        try
        {
            session = await ClientAsync(cancellationToken);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ToolException($"MCP server '{name}' could not be reached ({ex.Message}); '{tool}' was not called.", ex, transient: true);
        }

        CallToolResult result;
        try
        {
            result = await session.CallToolAsync(new CallToolRequestParams { Name = tool, Arguments = McpToolMapping.Arguments(input) }, cancellationToken);
        }
        catch (McpProtocolException ex)
        {
            throw new ToolException($"MCP server '{name}' refused the call of '{tool}': {ex.Message}", ex, transient: false);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw sideEffect == SideEffectClass.Mutating
                ? new ToolException($"MCP server '{name}' stopped during the call of '{tool}' ({ex.Message}); whether it took effect is unknown, so it is not run again. Check the server's own records.", ex, transient: false)
                : new ToolException($"MCP server '{name}' stopped during the call of '{tool}' ({ex.Message}); the tool is {sideEffect.ToString().ToLowerInvariant()}, so calling it again is safe.", ex, transient: true);
        }

        if (result.IsError == true)
        {
            throw new ToolException($"MCP tool '{tool}' of server '{name}' reported an error: {McpToolMapping.ErrorText(result)}", transient: false);
        }

        var output = new JsonObject { ["content"] = JsonSerializer.SerializeToNode(result.Content, McpJsonUtilities.DefaultOptions) };
        if (result.StructuredContent is { } structured)
        {
            output["structuredContent"] = JsonNode.Parse(structured.GetRawText());
        }

        return output;
    }

    public async ValueTask DisposeAsync()
    {
        await gate.WaitAsync();
        try
        {
            await CloseAsync();
        }
        finally
        {
            gate.Release();
        }
    }

    private IClientTransport Transport()
    {
        if (options.Url is { } url)
        {
            return new HttpClientTransport(new HttpClientTransportOptions
            {
                Name = name,
                Endpoint = url,
                TransportMode = HttpTransportMode.StreamableHttp,
                AdditionalHeaders = options.Headers,
            }, loggers);
        }

        return new StdioClientTransport(new StdioClientTransportOptions
        {
            Name = name,
            Command = options.Command!,
            Arguments = options.Arguments,
            WorkingDirectory = options.WorkingDirectory,
            EnvironmentVariables = options.Environment.ToDictionary(e => e.Key, e => (string?)e.Value),
        }, loggers);
    }

    private async Task CloseAsync()
    {
        if (subscription is not null)
        {
            await subscription.DisposeAsync();
            subscription = null;
        }

        if (client is not null)
        {
            await client.DisposeAsync();
            client = null;
        }
    }

    private void Signal()
    {
        try
        {
            changes.Release();
        }
        catch (SemaphoreFullException)
        {
            // A change is already pending.
        }
    }
}
