namespace Agents.Tools.Sdk;

/// <summary>
/// A tool: typed input in, typed output out. Implement it in one class, describe the class with
/// <see cref="ToolAttribute"/> and register it with
/// <c>builder.AddAgentsTool&lt;TTool&gt;()</c>. The SDK generates the JSON schemas from
/// <typeparamref name="TInput"/> and <typeparamref name="TOutput"/>, validates arguments,
/// deduplicates by idempotency key and answers the tool-gateway.
/// </summary>
/// <typeparam name="TInput">The arguments, usually a record; constructor parameters without defaults are required.</typeparam>
/// <typeparam name="TOutput">The result, serialized as JSON (camelCase).</typeparam>
public interface ITool<TInput, TOutput>
    where TInput : notnull
    where TOutput : notnull
{
    /// <summary>
    /// Runs the tool once for a new idempotency key. Throw <see cref="ToolException"/> for an expected
    /// failure (say whether retrying can help); any other exception becomes a transient failure,
    /// except <see cref="ArgumentException"/> and validation exceptions, which are permanent.
    /// </summary>
    /// <param name="input">The validated arguments.</param>
    /// <param name="context">Who is calling, for which task step, with which idempotency key.</param>
    /// <param name="cancellationToken">Cancelled at the tool's timeout or when the host stops.</param>
    Task<TOutput> ExecuteAsync(TInput input, ToolContext context, CancellationToken cancellationToken);
}

/// <summary>
/// A tool whose effect can be undone. The SDK calls <see cref="CompensateAsync"/> at most once per
/// idempotency key, with the input and output recorded when the call was executed.
/// </summary>
/// <typeparam name="TInput">The arguments of the original call.</typeparam>
/// <typeparam name="TOutput">The output of the original call.</typeparam>
public interface ICompensableTool<TInput, TOutput> : ITool<TInput, TOutput>
    where TInput : notnull
    where TOutput : notnull
{
    /// <summary>Undoes the call that produced <paramref name="previousOutput"/>; returns a short description of what was undone.</summary>
    /// <param name="input">The arguments of the original call, as recorded in the ledger.</param>
    /// <param name="previousOutput">The output of the original call, as recorded in the ledger.</param>
    /// <param name="context">The compensation request's context (same idempotency key as the original call).</param>
    /// <param name="cancellationToken">Cancelled at the tool's timeout or when the host stops.</param>
    Task<string> CompensateAsync(TInput input, TOutput previousOutput, ToolContext context, CancellationToken cancellationToken);
}
