using System.Text.Json;
using System.Text.Json.Nodes;
using Agents.Contracts;
using Agents.Gateway.Security;
using Microsoft.Extensions.Options;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace Agents.Gateway.Mcp;

/// <summary>
/// The platform as an MCP server. <c>tools/list</c>: the registered tools the caller's tenant policy lets
/// their roles call. <c>tools/call</c>: a governed one-step task (budgets, authorization, approvals,
/// audit) submitted to the executor and followed to its end; a call that waits for a person answers at
/// once with the task and approval to follow.
/// </summary>
internal sealed class PlatformMcpTools(PlatformBackends backends, IOptions<GatewayMcpOptions> options, TimeProvider time, ILogger<PlatformMcpTools> logger)
{
    private const string StepId = "call";
    private static readonly string[] Finished = ["Completed", "Failed", "Cancelled", "BudgetExceeded", "Compensated", "Rejected"];

    public async ValueTask<ListToolsResult> ListAsync(RequestContext<ListToolsRequestParams> request, CancellationToken cancellationToken)
    {
        var principal = Caller(request);
        using var registry = await GetJsonAsync("toolgateway", "/api/tools", principal, cancellationToken);

        // The registry shows each caller the tools their roles may call (and admins every tool, with 'allowed').
        var allowed = registry.RootElement.EnumerateArray()
            .Where(t => t.GetProperty("allowed").GetBoolean() && t.GetProperty("status").GetString() != "Retired")
            .Select(t => t.GetProperty("name").GetString()!)
            .ToList();

        var tools = await Task.WhenAll(allowed.Select(async name =>
        {
            using var details = await GetJsonAsync("toolgateway", "/api/tools/" + Uri.EscapeDataString(name), principal, cancellationToken);
            return ToMcpTool(details.RootElement);
        }));
        return new ListToolsResult { Tools = tools };
    }

    public async ValueTask<CallToolResult> CallAsync(RequestContext<CallToolRequestParams> request, CancellationToken cancellationToken)
    {
        var principal = Caller(request);
        var tool = request.Params?.Name ?? throw new McpProtocolException("tools/call needs the tool's name.", McpErrorCode.InvalidParams);
        var arguments = JsonSerializer.Serialize(request.Params.Arguments ?? new Dictionary<string, JsonElement>());
        var submission = new
        {
            steps = new[] { new { id = StepId, kind = "tool", tool, argumentsJson = arguments, dependsOn = Array.Empty<string>() } },
            allowedTools = new[] { tool },
        };

        // A busy executor answers 503 "nothing was created": the same submission (same key) is sent again
        // until the call's deadline, so load delays the call rather than failing it.
        var deadline = time.GetUtcNow() + options.Value.CallTimeout;
        var key = "mcp-" + Guid.NewGuid().ToString("N");
        Guid taskId;
        while (true)
        {
            using var submitted = await backends.SendAsync("executor", HttpMethod.Post, "/api/tasks", principal, JsonContent.Create(submission), cancellationToken, key);
            var body = await submitted.Content.ReadAsStringAsync(cancellationToken);
            if (submitted.StatusCode == System.Net.HttpStatusCode.ServiceUnavailable && time.GetUtcNow() < deadline)
            {
                await Task.Delay(options.Value.PollInterval * 5, time, cancellationToken);
                continue;
            }

            if (!submitted.IsSuccessStatusCode)
            {
                return Error($"The platform refused the call of '{tool}' ({(int)submitted.StatusCode}): {Detail(body)}");
            }

            using var document = JsonDocument.Parse(body);
            taskId = document.RootElement.GetProperty("id").GetGuid();
            break;
        }

        logger.LogInformation("MCP tools/call of {Tool} by {Tenant}/{User} runs as task {TaskId}.", tool, principal.TenantId, principal.UserId, taskId);
        var progress = request.Params.ProgressToken;
        string? reported = null;
        var step = 0;
        while (true)
        {
            using var view = await GetJsonAsync("executor", $"/api/tasks/{taskId}", principal, cancellationToken);
            var task = view.RootElement;
            var status = task.GetProperty("status").GetString()!;
            if (progress is { } token && status != reported)
            {
                reported = status;
                await request.Server.NotifyProgressAsync(token, new ProgressNotificationValue { Progress = ++step, Message = $"task {taskId}: {status}" }, cancellationToken: cancellationToken);
            }

            if (status == "Completed")
            {
                return Completed(task, taskId);
            }

            if (Finished.Contains(status))
            {
                return Error($"The call of '{tool}' ended {status} (task {taskId}): {Reason(task)}");
            }

            if (status == "AwaitingApproval")
            {
                return Pending(task, tool, taskId);
            }

            if (time.GetUtcNow() > deadline)
            {
                return Text(
                    $"The call of '{tool}' is still running as task {taskId} after {options.Value.CallTimeout}; follow it with GET /api/tasks/{taskId}.",
                    new JsonObject { ["agents/status"] = "running", ["agents/taskId"] = taskId.ToString() });
            }

            await Task.Delay(options.Value.PollInterval, time, cancellationToken);
        }
    }

    private static Tool ToMcpTool(JsonElement details)
    {
        var sideEffect = details.GetProperty("sideEffect").GetString();
        return new Tool
        {
            Name = details.GetProperty("name").GetString()!,
            Description = details.GetProperty("description").GetString(),
            InputSchema = details.GetProperty("inputSchema").Clone(),
            Annotations = new ToolAnnotations
            {
                ReadOnlyHint = sideEffect == nameof(SideEffectClass.ReadOnly),
                DestructiveHint = sideEffect == nameof(SideEffectClass.Mutating),
                IdempotentHint = sideEffect != nameof(SideEffectClass.Mutating),
                OpenWorldHint = details.GetProperty("returnsUntrustedContent").GetBoolean(),
            },
        };
    }

    private static CallToolResult Completed(JsonElement task, Guid taskId)
    {
        var output = task.TryGetProperty("result", out var result) && result.ValueKind == JsonValueKind.Object && result.TryGetProperty(StepId, out var value)
            ? value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText()
            : "null";
        return new CallToolResult
        {
            Content = [new TextContentBlock { Text = output }],
            Meta = new JsonObject { ["agents/status"] = "completed", ["agents/taskId"] = taskId.ToString(), ["agents/untrusted"] = true },
        };
    }

    private static CallToolResult Pending(JsonElement task, string tool, Guid taskId)
    {
        var approvalId = task.GetProperty("steps").EnumerateArray()
            .Where(s => s.GetProperty("id").GetString() == StepId && s.TryGetProperty("approvalId", out var id) && id.ValueKind == JsonValueKind.String)
            .Select(s => s.GetProperty("approvalId").GetString())
            .FirstOrDefault();
        return Text(
            $"Pending approval: the call of '{tool}' runs as task {taskId} and waits for a person to decide approval {approvalId?.ToString() ?? "(being created)"}. "
                + $"An approver decides it with POST /api/governance/approvals/{approvalId}/approve (or /reject); follow the task with GET /api/tasks/{taskId}.",
            new JsonObject { ["agents/status"] = "pending-approval", ["agents/taskId"] = taskId.ToString(), ["agents/approvalId"] = approvalId });
    }

    private static CallToolResult Text(string text, JsonObject meta) => new()
    {
        Content = [new TextContentBlock { Text = text }],
        Meta = meta,
    };

    private static CallToolResult Error(string text) => new() { IsError = true, Content = [new TextContentBlock { Text = text }] };

    private static string Reason(JsonElement task)
    {
        var errors = task.GetProperty("steps").EnumerateArray()
            .Select(s => s.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() : null)
            .OfType<string>()
            .ToList();
        var reason = task.TryGetProperty("reason", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null;
        return string.Join("; ", new[] { reason }.Concat(errors).OfType<string>().Distinct()) is { Length: > 0 } text ? text : "no reason given";
    }

    private static string Detail(string body)
    {
        try
        {
            using var problem = JsonDocument.Parse(body);
            return problem.RootElement.TryGetProperty("detail", out var detail) ? detail.GetString() ?? body : body;
        }
        catch (JsonException)
        {
            return body;
        }
    }

    private static AgentPrincipal Caller(MessageContext request) =>
        request.User is { } user && PrincipalForwarding.ToPrincipal(user) is { } principal
            ? principal
            : throw new McpProtocolException("The caller is not authenticated.", McpErrorCode.InvalidRequest);

    private async Task<JsonDocument> GetJsonAsync(string cluster, string path, AgentPrincipal principal, CancellationToken cancellationToken)
    {
        using var response = await backends.SendAsync(cluster, HttpMethod.Get, path, principal, null, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        return response.IsSuccessStatusCode
            ? JsonDocument.Parse(body)
            : throw new McpException($"The {cluster} service answered {(int)response.StatusCode} to {path}: {Detail(body)}");
    }
}
