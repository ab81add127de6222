using Agents.Contracts;
using Agents.Tools.Sdk.Hosting;
using Agents.Tools.Sdk.Ledger;
using Agents.Tools.Sdk.Schema;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Agents.Tools.Sdk.Execution;

/// <summary>
/// Runs one <see cref="ExecuteTool"/> request for one tool: checks, argument validation, ledger
/// deduplication, execution or compensation, and the answer. Never throws for a tool failure; an
/// exception escapes only when the ledger itself cannot be reached.
/// </summary>
internal sealed class ToolInvoker<TTool, TInput, TOutput>(
    TTool tool,
    IEnumerable<ToolDefinition> definitions,
    ToolLedger ledger,
    FaultInjector faults,
    IOptions<ToolHostOptions> options,
    TimeProvider time,
    ILoggerFactory loggers)
    where TTool : class, ITool<TInput, TOutput>
    where TInput : notnull
    where TOutput : notnull
{
    private const int MaxKeyLength = 200;
    private readonly ToolDefinition definition = definitions.Single(d => d.ToolType == typeof(TTool));
    private readonly ILogger logger = loggers.CreateLogger("Agents.Tools." + typeof(TTool).Name);

    private string Name => definition.Name;

    public async Task<ToolExecutionResult> InvokeAsync(ExecuteTool request, CancellationToken cancellationToken)
    {
        if (!string.Equals(request.Tool, Name, StringComparison.Ordinal))
        {
            return Failure(request, $"This queue serves tool '{Name}', not '{request.Tool}'.", transient: false);
        }

        if (string.IsNullOrWhiteSpace(request.IdempotencyKey) || request.IdempotencyKey.Length > MaxKeyLength)
        {
            return Failure(request, $"The idempotency key must be 1 to {MaxKeyLength} characters.", transient: false);
        }

        if (request.Principal is null || string.IsNullOrWhiteSpace(request.Principal.TenantId) || string.IsNullOrWhiteSpace(request.Principal.UserId))
        {
            return Failure(request, "The call carries no principal (tenant and user); tools act only on behalf of someone.", transient: false);
        }

        using var scope = logger.BeginScope(new Dictionary<string, object>
        {
            ["gen_ai.tool.name"] = Name,
            ["gen_ai.tool.call.id"] = request.CallId,
            ["TaskId"] = request.TaskId,
            ["StepId"] = request.StepId,
            ["IdempotencyKey"] = request.IdempotencyKey,
        });

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

        var hash = ToolJson.ArgumentsHash(request.ArgumentsJson);
        await using var held = await ledger.LockAsync(Name, request.IdempotencyKey, options.Value.DuplicateWait, cancellationToken);
        if (held is null)
        {
            return Failure(request, $"Another call of '{Name}' with idempotency key '{request.IdempotencyKey}' is still running; try again later.", transient: true);
        }

        var entry = await held.FindAsync(LedgerOperations.Execute, cancellationToken);
        if (entry is not null)
        {
            var conflict = Conflict(entry, request, hash);
            if (conflict is not null)
            {
                return Failure(request, conflict, transient: false);
            }

            switch (entry.Status)
            {
                case LedgerStatuses.Succeeded:
                case LedgerStatuses.Failed:
                case LedgerStatuses.OutcomeUnknown:
                    return await ReplayAsync(held, entry, request, cancellationToken);
                case LedgerStatuses.Started when definition.SideEffect == SideEffectClass.Mutating:
                    return await GiveUpInterruptedAsync(held, entry, request, cancellationToken);
            }

            // A transient failure, or an interrupted read-only/idempotent run: running again is safe.
        }

        if (await held.FindAsync(LedgerOperations.Compensate, cancellationToken) is not null)
        {
            return Failure(request, $"The call of '{Name}' with idempotency key '{request.IdempotencyKey}' was already compensated; it is not run now.", transient: false);
        }

        var injected = faults.NextFailure(Name);
        await held.StartAsync(NewEntry(request, LedgerOperations.Execute, hash, request.ArgumentsJson), runsTool: injected is null, cancellationToken);
        if (injected is not null)
        {
            await held.CompleteAsync(LedgerOperations.Execute, LedgerStatuses.TransientFailure, null, injected, time.GetUtcNow(), CancellationToken.None);
            return Failure(request, injected, transient: true);
        }

        var context = new ToolContext(Name, request, compensation: false, time, logger);
        return await RunAsync(held, LedgerOperations.Execute, request, async token =>
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

        await using var held = await ledger.LockAsync(Name, request.IdempotencyKey, options.Value.DuplicateWait, cancellationToken);
        if (held is null)
        {
            return Failure(request, $"Another call of '{Name}' with idempotency key '{request.IdempotencyKey}' is still running; try again later.", transient: true);
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
                    return await ReplayAsync(held, previous, request, cancellationToken);
                case LedgerStatuses.Started:
                    return await GiveUpInterruptedAsync(held, previous, request, cancellationToken);
            }
        }

        var original = await held.FindAsync(LedgerOperations.Execute, cancellationToken);
        if (original is not null && !string.Equals(original.TenantId, request.Principal.TenantId, StringComparison.Ordinal))
        {
            return Failure(request, $"Idempotency key '{request.IdempotencyKey}' belongs to another tenant.", transient: false);
        }

        var arguments = original?.Arguments ?? (string.IsNullOrWhiteSpace(request.ArgumentsJson) ? "{}" : request.ArgumentsJson);
        var hash = original?.ArgumentsHash ?? SafeHash(arguments);
        switch (original?.Status)
        {
            case null:
                return await NothingToUndoAsync(held, request, arguments, hash, $"Nothing to compensate: '{Name}' never executed a call with idempotency key '{request.IdempotencyKey}'. Later calls with this key will be refused.", cancellationToken);
            case LedgerStatuses.Failed:
            case LedgerStatuses.TransientFailure:
                return await NothingToUndoAsync(held, request, arguments, hash, $"Nothing to compensate: the call of '{Name}' with idempotency key '{request.IdempotencyKey}' failed ({original.Error}).", cancellationToken);
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

        await held.StartAsync(NewEntry(request, LedgerOperations.Compensate, hash, arguments), runsTool: true, cancellationToken);
        var context = new ToolContext(Name, request, compensation: true, time, logger);
        return await RunAsync(held, LedgerOperations.Compensate, request, async token =>
        {
            var detail = await compensable.CompensateAsync(input, output, context, token);
            return ToolJson.Serialize(new CompensationOutput(true, true, detail));
        }, cancellationToken);
    }

    private async Task<ToolExecutionResult> RunAsync(LedgerLock held, string operation, ExecuteTool request, Func<CancellationToken, Task<string>> work, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(definition.Timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        string? output = null;
        string? error = null;
        var transient = false;
        try
        {
            var delay = faults.DelayFor(Name);
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, time, linked.Token);
            }

            output = await work(linked.Token);
        }
        catch (ToolException ex)
        {
            error = ex.Message;
            transient = ex.Transient;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            error = $"Tool '{Name}' did not finish within its timeout of {definition.Timeout.TotalSeconds:0.#} s.";
            transient = true;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            error = $"Tool '{Name}' was interrupted because its host is stopping.";
            transient = true;
        }
        catch (Exception ex) when (ex is ArgumentException or System.ComponentModel.DataAnnotations.ValidationException)
        {
            error = ex.Message;
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Tool {Tool} failed unexpectedly ({Operation}).", Name, operation);
            error = $"Tool '{Name}' failed: {ex.GetType().Name}: {ex.Message}";
            transient = true;
        }

        var status = output is not null ? LedgerStatuses.Succeeded
            : transient ? LedgerStatuses.TransientFailure
            : LedgerStatuses.Failed;
        try
        {
            await held.CompleteAsync(operation, status, output, error, time.GetUtcNow(), CancellationToken.None);
        }
        catch (Exception ex)
        {
            // The row stays "started": a redelivery treats the outcome as unknown rather than running again.
            logger.LogError(ex, "Tool {Tool} ran ({Operation}, {Status}) but the ledger could not record it.", Name, operation, status);
        }

        return output is not null
            ? new ToolExecutionResult(request.CallId, true, output, null, false, false)
            : Failure(request, error!, transient);
    }

    private async Task<ToolExecutionResult> ReplayAsync(LedgerLock held, ToolLedgerEntry entry, ExecuteTool request, CancellationToken cancellationToken)
    {
        await held.CountReplayAsync(entry.Operation, request.CallId, time.GetUtcNow(), cancellationToken);
        logger.LogInformation("Replayed stored {Operation} result ({Status}) of {Tool} for its idempotency key.", entry.Operation, entry.Status, Name);
        return entry.Status == LedgerStatuses.Succeeded
            ? new ToolExecutionResult(request.CallId, true, entry.Output, null, false, true)
            : new ToolExecutionResult(request.CallId, false, null, entry.Error, false, true);
    }

    private async Task<ToolExecutionResult> GiveUpInterruptedAsync(LedgerLock held, ToolLedgerEntry entry, ExecuteTool request, CancellationToken cancellationToken)
    {
        var error = $"An earlier {entry.Operation} of '{Name}' with idempotency key '{request.IdempotencyKey}' started at {entry.UpdatedAt:O} and never recorded its outcome (its host stopped mid-run). " +
            "It is not run again, to avoid a duplicate side effect; check the tool's own records.";
        await held.CompleteAsync(entry.Operation, LedgerStatuses.OutcomeUnknown, null, error, time.GetUtcNow(), cancellationToken);
        logger.LogWarning("{Tool}: {Operation} for an idempotency key was interrupted earlier; outcome unknown, not re-run.", Name, entry.Operation);
        return Failure(request, error, transient: false);
    }

    private async Task<ToolExecutionResult> NothingToUndoAsync(LedgerLock held, ExecuteTool request, string arguments, string hash, string detail, CancellationToken cancellationToken)
    {
        var output = ToolJson.Serialize(new CompensationOutput(false, false, detail));
        await held.StartAsync(NewEntry(request, LedgerOperations.Compensate, hash, arguments), runsTool: false, cancellationToken);
        await held.CompleteAsync(LedgerOperations.Compensate, LedgerStatuses.Succeeded, output, null, time.GetUtcNow(), cancellationToken);
        return new ToolExecutionResult(request.CallId, true, output, null, false, false);
    }

    private string? Conflict(ToolLedgerEntry entry, ExecuteTool request, string hash)
    {
        if (!string.Equals(entry.TenantId, request.Principal.TenantId, StringComparison.Ordinal))
        {
            return $"Idempotency key '{request.IdempotencyKey}' belongs to another tenant.";
        }

        return string.Equals(entry.ArgumentsHash, hash, StringComparison.Ordinal)
            ? null
            : $"Idempotency key '{request.IdempotencyKey}' was already used for '{Name}' with different arguments; the call was not executed. Use a new key for new arguments.";
    }

    private ToolLedgerEntry NewEntry(ExecuteTool request, string operation, string hash, string arguments) => new()
    {
        Tool = Name,
        IdempotencyKey = request.IdempotencyKey,
        Operation = operation,
        TenantId = request.Principal.TenantId,
        UserId = request.Principal.UserId,
        TaskId = request.TaskId,
        StepId = request.StepId ?? string.Empty,
        LastCallId = request.CallId,
        ArgumentsHash = hash,
        Arguments = arguments,
        Status = LedgerStatuses.Started,
        CreatedAt = time.GetUtcNow(),
        UpdatedAt = time.GetUtcNow(),
    };

    private static string SafeHash(string json)
    {
        try
        {
            return ToolJson.ArgumentsHash(json);
        }
        catch (System.Text.Json.JsonException)
        {
            return ToolJson.ArgumentsHash("{}");
        }
    }

    private static ToolExecutionResult Failure(ExecuteTool request, string error, bool transient) =>
        new(request.CallId, false, null, error, transient, false);
}
