using Agents.Contracts;
using Agents.Tools.Sdk.Ledger;
using Agents.Tools.Sdk.Schema;
using Microsoft.Extensions.Logging;

namespace Agents.Tools.Sdk.Execution;

/// <summary>
/// Runs one <see cref="ExecuteTool"/> request for one tool class: argument validation against its
/// input record, then execution or compensation under the rules of <see cref="ToolCallRunner"/>.
/// Never throws for a tool failure; an exception escapes only when the ledger itself cannot be reached.
/// </summary>
internal sealed class ToolInvoker<TTool, TInput, TOutput>(
    TTool tool,
    IEnumerable<ToolDefinition> definitions,
    ToolCallRunner runner,
    ILoggerFactory loggers)
    where TTool : class, ITool<TInput, TOutput>
    where TInput : notnull
    where TOutput : notnull
{
    private readonly ToolDefinition definition = definitions.Single(d => d.ToolType == typeof(TTool));
    private ToolRunSettings? settings;

    private ToolRunSettings Settings => settings ??= new ToolRunSettings(
        definition.Name, definition.SideEffect, definition.Timeout, loggers.CreateLogger("Agents.Tools." + typeof(TTool).Name));

    private string Name => definition.Name;

    public async Task<ToolExecutionResult> InvokeAsync(ExecuteTool request, CancellationToken cancellationToken)
    {
        if (ToolCallRunner.Refusal(Settings, request) is { } refusal)
        {
            return refusal;
        }

        using var scope = ToolCallRunner.BeginScope(Settings, request);
        return request.Compensate
            ? await CompensateAsync(request, cancellationToken)
            : await ExecuteAsync(request, cancellationToken);
    }

    private async Task<ToolExecutionResult> ExecuteAsync(ExecuteTool request, CancellationToken cancellationToken)
    {
        var input = ToolJson.TryParse<TInput>(request.ArgumentsJson, out var errors);
        if (input is null)
        {
            return Failure(request, $"Invalid arguments for tool '{Name}': {string.Join("; ", errors)}", transient: false);
        }

        return await runner.ExecuteAsync(Settings, request, async (context, token) =>
        {
            var output = await tool.ExecuteAsync(input, context, token);
            return output is null
                ? throw new InvalidOperationException($"Tool '{Name}' returned no output.")
                : ToolJson.Serialize(output);
        }, cancellationToken);
    }

    private async Task<ToolExecutionResult> CompensateAsync(ExecuteTool request, CancellationToken cancellationToken)
    {
        if (tool is not ICompensableTool<TInput, TOutput> compensable)
        {
            return Failure(request, $"Tool '{Name}' is not compensable: it declares no way to undo a call.", transient: false);
        }

        await using var held = await runner.LockAsync(Settings, request, cancellationToken);
        if (held is null)
        {
            return ToolCallRunner.StillRunning(Settings, request);
        }

        var previous = await held.FindAsync(LedgerOperations.Compensate, cancellationToken);
        if (previous is not null)
        {
            if (!string.Equals(previous.TenantId, request.Principal.TenantId, StringComparison.Ordinal))
            {
                return Failure(request, $"Idempotency key '{request.IdempotencyKey}' belongs to another tenant.", transient: false);
            }

            switch (previous.Status)
            {
                case LedgerStatuses.Succeeded:
                case LedgerStatuses.Failed:
                case LedgerStatuses.OutcomeUnknown:
                    return await runner.ReplayAsync(Settings, held, previous, request, cancellationToken);
                case LedgerStatuses.Started:
                    return await runner.GiveUpInterruptedAsync(Settings, held, previous, request, cancellationToken);
            }
        }

        var original = await held.FindAsync(LedgerOperations.Execute, cancellationToken);
        if (original is not null && !string.Equals(original.TenantId, request.Principal.TenantId, StringComparison.Ordinal))
        {
            return Failure(request, $"Idempotency key '{request.IdempotencyKey}' belongs to another tenant.", transient: false);
        }

        var arguments = original?.Arguments ?? (string.IsNullOrWhiteSpace(request.ArgumentsJson) ? "{}" : request.ArgumentsJson);
        var hash = original?.ArgumentsHash ?? ToolCallRunner.SafeHash(arguments);
        switch (original?.Status)
        {
            case null:
                return await runner.NothingToUndoAsync(Settings, held, request, arguments, hash, $"Nothing to compensate: '{Name}' never executed a call with idempotency key '{request.IdempotencyKey}'. Later calls with this key will be refused.", cancellationToken);
            case LedgerStatuses.Failed:
            case LedgerStatuses.TransientFailure:
                return await runner.NothingToUndoAsync(Settings, held, request, arguments, hash, $"Nothing to compensate: the call of '{Name}' with idempotency key '{request.IdempotencyKey}' failed ({original.Error}).", cancellationToken);
            case LedgerStatuses.Started:
            case LedgerStatuses.OutcomeUnknown:
                return Failure(request, $"Cannot compensate automatically: the outcome of the call of '{Name}' with idempotency key '{request.IdempotencyKey}' is unknown (it was interrupted). Check the tool's own records.", transient: false);
        }

        TInput input;
        TOutput output;
        try
        {
            input = ToolJson.Deserialize<TInput>(original.Arguments);
            output = ToolJson.Deserialize<TOutput>(original.Output!);
        }
        catch (System.Text.Json.JsonException ex)
        {
            return Failure(request, $"The ledger's record of the original call cannot be read as {typeof(TInput).Name}/{typeof(TOutput).Name} (did the tool's records change?): {ex.Message}", transient: false);
        }

        await held.StartAsync(runner.NewEntry(Settings, request, LedgerOperations.Compensate, hash, arguments), runsTool: true, cancellationToken);
        var context = new ToolContext(Name, request, compensation: true, runner.Time, Settings.Logger);
        return await runner.RunAsync(Settings, held, LedgerOperations.Compensate, request, async token =>
        {
            var detail = await compensable.CompensateAsync(input, output, context, token);
            return ToolJson.Serialize(new CompensationOutput(true, true, detail));
        }, cancellationToken);
    }

    private static ToolExecutionResult Failure(ExecuteTool request, string error, bool transient) =>
        ToolCallRunner.Failure(request, error, transient);
}
