using Agents.Contracts;
using Agents.Tools.Sdk.Hosting;
using Agents.Tools.Sdk.Ledger;
using Agents.Tools.Sdk.Schema;
using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Agents.Tools.Sdk.Execution;

/// <summary>What the ledger needs to know about the tool it runs a call for.</summary>
/// <param name="Name">The tool's name.</param>
/// <param name="SideEffect">Decides whether an interrupted run may run again.</param>
/// <param name="Timeout">How long one execution may take.</param>
/// <param name="Logger">The tool's logger.</param>
internal sealed record ToolRunSettings(string Name, SideEffectClass SideEffect, TimeSpan Timeout, ILogger Logger);

/// <summary>
/// The rules every tool call follows, whatever defines the tool (a class with records, or schema
/// documents and a delegate): request checks, ledger deduplication by idempotency key, fault
/// injection, the timeout, and how an outcome is recorded and answered. Never throws for a tool
/// failure; an exception escapes only when the ledger itself cannot be reached.
/// </summary>
internal sealed class ToolCallRunner(
    ToolLedger ledger,
    FaultInjector faults,
    IOptions<ToolHostOptions> options,
    TimeProvider time)
{
    private const int MaxKeyLength = 200;

    /// <summary>The clock calls are run with.</summary>
    public TimeProvider Time => time;

    /// <summary>Why <paramref name="request"/> cannot be served by <paramref name="tool"/>, or null when it can.</summary>
    public static ToolExecutionResult? Refusal(ToolRunSettings tool, ExecuteTool request)
    {
        if (!string.Equals(request.Tool, tool.Name, StringComparison.Ordinal))
        {
            return Failure(request, $"This queue serves tool '{tool.Name}', not '{request.Tool}'.", transient: false);
        }

        if (string.IsNullOrWhiteSpace(request.IdempotencyKey) || request.IdempotencyKey.Length > MaxKeyLength)
        {
            return Failure(request, $"The idempotency key must be 1 to {MaxKeyLength} characters.", transient: false);
        }

        if (request.Principal is null || string.IsNullOrWhiteSpace(request.Principal.TenantId) || string.IsNullOrWhiteSpace(request.Principal.UserId))
        {
            return Failure(request, "The call carries no principal (tenant and user); tools act only on behalf of someone.", transient: false);
        }

        return null;
    }

    /// <summary>A logging scope naming the call.</summary>
    public static IDisposable? BeginScope(ToolRunSettings tool, ExecuteTool request) => tool.Logger.BeginScope(new Dictionary<string, object>
    {
        ["gen_ai.tool.name"] = tool.Name,
        ["gen_ai.tool.call.id"] = request.CallId,
        ["TaskId"] = request.TaskId,
        ["StepId"] = request.StepId,
        ["IdempotencyKey"] = request.IdempotencyKey,
    });

    /// <summary>Takes the (tool, key) lock, or null when a duplicate kept it past <c>Tools:DuplicateWait</c>.</summary>
    public Task<LedgerLock?> LockAsync(ToolRunSettings tool, ExecuteTool request, CancellationToken cancellationToken) =>
        ledger.LockAsync(tool.Name, request.IdempotencyKey, options.Value.DuplicateWait, cancellationToken);

    /// <summary>
    /// Executes a call whose arguments were already validated: replays a stored outcome, refuses a
    /// conflicting or compensated key, or records <c>started</c>, runs <paramref name="work"/> (which
    /// returns the output JSON) under the tool's timeout and records how it ended.
    /// </summary>
    public async Task<ToolExecutionResult> ExecuteAsync(ToolRunSettings tool, ExecuteTool request, Func<ToolContext, CancellationToken, Task<string>> work, CancellationToken cancellationToken)
    {
        if (tool.SideEffect == SideEffectClass.ReadOnly && !options.Value.LedgerReadOnlyCalls)
        {
            // Not recorded (Tools:LedgerReadOnlyCalls): a read runs every time it is asked for.
            var failure = faults.NextFailure(tool.Name);
            if (failure is not null)
            {
                return Failure(request, failure, transient: true);
            }

            var readContext = new ToolContext(tool.Name, request, compensation: false, time, tool.Logger);
            return await RunAsync(tool, null, LedgerOperations.Execute, request, token => work(readContext, token), cancellationToken);
        }

        var hash = ToolJson.ArgumentsHash(request.ArgumentsJson);
        await using var held = await LockAsync(tool, request, cancellationToken);
        if (held is null)
        {
            return StillRunning(tool, request);
        }

        var entry = await held.FindAsync(LedgerOperations.Execute, cancellationToken);
        if (entry is not null)
        {
            var conflict = Conflict(tool, entry, request, hash);
            if (conflict is not null)
            {
                return Failure(request, conflict, transient: false);
            }

            switch (entry.Status)
            {
                case LedgerStatuses.Succeeded:
                case LedgerStatuses.Failed:
                case LedgerStatuses.OutcomeUnknown:
                    return await ReplayAsync(tool, held, entry, request, cancellationToken);
                case LedgerStatuses.Started when tool.SideEffect == SideEffectClass.Mutating:
                    return await GiveUpInterruptedAsync(tool, held, entry, request, cancellationToken);
            }

            // A transient failure, or an interrupted read-only/idempotent run: running again is safe.
        }

        if (await held.FindAsync(LedgerOperations.Compensate, cancellationToken) is not null)
        {
            return Failure(request, $"The call of '{tool.Name}' with idempotency key '{request.IdempotencyKey}' was already compensated; it is not run now.", transient: false);
        }

        var injected = faults.NextFailure(tool.Name);
        await held.StartAsync(NewEntry(tool, request, LedgerOperations.Execute, hash, request.ArgumentsJson), runsTool: injected is null, cancellationToken);
        if (injected is not null)
        {
            await held.CompleteAsync(LedgerOperations.Execute, LedgerStatuses.TransientFailure, null, injected, time.GetUtcNow(), CancellationToken.None);
            return Failure(request, injected, transient: true);
        }

        var context = new ToolContext(tool.Name, request, compensation: false, time, tool.Logger);
        return await RunAsync(tool, held, LedgerOperations.Execute, request, token => work(context, token), cancellationToken);
    }

    /// <summary>
    /// Answers <paramref name="context"/> with what <paramref name="invoke"/> returns; when the ledger (the
    /// tool's database) could not be used, with a transient failure saying nothing was executed.
    /// </summary>
    public static async Task AnswerAsync(ConsumeContext<ExecuteTool> context, Func<CancellationToken, Task<ToolExecutionResult>> invoke, ILogger logger)
    {
        ToolExecutionResult result;
        try
        {
            result = await invoke(context.CancellationToken);
        }
        catch (Exception ex) when (!context.CancellationToken.IsCancellationRequested)
        {
            logger.LogError(ex, "Tool call {CallId} for {Tool} could not be processed.", context.Message.CallId, context.Message.Tool);
            result = new ToolExecutionResult(context.Message.CallId, false, null, $"The tool service could not process the call ({ex.GetType().Name}: {ex.Message}); nothing was executed.", true, false);
        }

        await context.RespondAsync(result);
    }

    /// <summary>The answer when another call with the same key kept the lock.</summary>
    public static ToolExecutionResult StillRunning(ToolRunSettings tool, ExecuteTool request) =>
        Failure(request, $"Another call of '{tool.Name}' with idempotency key '{request.IdempotencyKey}' is still running; try again later.", transient: true);

    /// <summary>Runs <paramref name="work"/> under the tool's timeout and records how it ended on <paramref name="held"/> (null: not recorded).</summary>
    public async Task<ToolExecutionResult> RunAsync(ToolRunSettings tool, LedgerLock? held, string operation, ExecuteTool request, Func<CancellationToken, Task<string>> work, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(tool.Timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        string? output = null;
        string? error = null;
        var transient = false;
        try
        {
            var delay = faults.DelayFor(tool.Name);
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
            error = $"Tool '{tool.Name}' did not finish within its timeout of {tool.Timeout.TotalSeconds:0.#} s.";
            transient = true;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            error = $"Tool '{tool.Name}' was interrupted because its host is stopping.";
            transient = true;
        }
        catch (Exception ex) when (ex is ArgumentException or System.ComponentModel.DataAnnotations.ValidationException)
        {
            error = ex.Message;
        }
        catch (Exception ex)
        {
            tool.Logger.LogError(ex, "Tool {Tool} failed unexpectedly ({Operation}).", tool.Name, operation);
            error = $"Tool '{tool.Name}' failed: {ex.GetType().Name}: {ex.Message}";
            transient = true;
        }

        var status = output is not null ? LedgerStatuses.Succeeded
            : transient ? LedgerStatuses.TransientFailure
            : LedgerStatuses.Failed;
        try
        {
            if (held is not null)
            {
                await held.CompleteAsync(operation, status, output, error, time.GetUtcNow(), CancellationToken.None);
            }
        }
        catch (Exception ex)
        {
            // The row stays "started": a redelivery treats the outcome as unknown rather than running again.
            tool.Logger.LogError(ex, "Tool {Tool} ran ({Operation}, {Status}) but the ledger could not record it.", tool.Name, operation, status);
        }

        return output is not null
            ? new ToolExecutionResult(request.CallId, true, output, null, false, false)
            : Failure(request, error!, transient);
    }

    public async Task<ToolExecutionResult> ReplayAsync(ToolRunSettings tool, LedgerLock held, ToolLedgerEntry entry, ExecuteTool request, CancellationToken cancellationToken)
    {
        await held.CountReplayAsync(entry.Operation, request.CallId, time.GetUtcNow(), cancellationToken);
        tool.Logger.LogInformation("Replayed stored {Operation} result ({Status}) of {Tool} for its idempotency key.", entry.Operation, entry.Status, tool.Name);
        return entry.Status == LedgerStatuses.Succeeded
            ? new ToolExecutionResult(request.CallId, true, entry.Output, null, false, true)
            : new ToolExecutionResult(request.CallId, false, null, entry.Error, false, true);
    }

    public async Task<ToolExecutionResult> GiveUpInterruptedAsync(ToolRunSettings tool, LedgerLock held, ToolLedgerEntry entry, ExecuteTool request, CancellationToken cancellationToken)
    {
        var error = $"An earlier {entry.Operation} of '{tool.Name}' with idempotency key '{request.IdempotencyKey}' started at {entry.UpdatedAt:O} and never recorded its outcome (its host stopped mid-run). " +
            "It is not run again, to avoid a duplicate side effect; check the tool's own records.";
        await held.CompleteAsync(entry.Operation, LedgerStatuses.OutcomeUnknown, null, error, time.GetUtcNow(), cancellationToken);
        tool.Logger.LogWarning("{Tool}: {Operation} for an idempotency key was interrupted earlier; outcome unknown, not re-run.", tool.Name, entry.Operation);
        return Failure(request, error, transient: false);
    }

    public async Task<ToolExecutionResult> NothingToUndoAsync(ToolRunSettings tool, LedgerLock held, ExecuteTool request, string arguments, string hash, string detail, CancellationToken cancellationToken)
    {
        var output = ToolJson.Serialize(new CompensationOutput(false, false, detail));
        await held.StartAsync(NewEntry(tool, request, LedgerOperations.Compensate, hash, arguments), runsTool: false, cancellationToken);
        await held.CompleteAsync(LedgerOperations.Compensate, LedgerStatuses.Succeeded, output, null, time.GetUtcNow(), cancellationToken);
        return new ToolExecutionResult(request.CallId, true, output, null, false, false);
    }

    private static string? Conflict(ToolRunSettings tool, ToolLedgerEntry entry, ExecuteTool request, string hash)
    {
        if (!string.Equals(entry.TenantId, request.Principal.TenantId, StringComparison.Ordinal))
        {
            return $"Idempotency key '{request.IdempotencyKey}' belongs to another tenant.";
        }

        return string.Equals(entry.ArgumentsHash, hash, StringComparison.Ordinal)
            ? null
            : $"Idempotency key '{request.IdempotencyKey}' was already used for '{tool.Name}' with different arguments; the call was not executed. Use a new key for new arguments.";
    }

    public ToolLedgerEntry NewEntry(ToolRunSettings tool, ExecuteTool request, string operation, string hash, string arguments) => new()
    {
        Tool = tool.Name,
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

    public static string SafeHash(string json)
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

    public static ToolExecutionResult Failure(ExecuteTool request, string error, bool transient) =>
        new(request.CallId, false, null, error, transient, false);
}
