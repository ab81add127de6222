namespace Agents.Tools.Sdk;

/// <summary>
/// The output of a compensation request (<c>ExecuteTool</c> with <c>Compensate = true</c>).
/// </summary>
/// <param name="Compensated">True when something was undone; false when there was nothing to undo.</param>
/// <param name="OriginalExecuted">True when the original call with the key had succeeded.</param>
/// <param name="Detail">What was undone, or why nothing was.</param>
public sealed record CompensationOutput(bool Compensated, bool OriginalExecuted, string Detail);
