using Agents.Contracts;

namespace Agents.ToolGateway.Invocation;

/// <summary>
/// The second half of an <see cref="InvokeTool"/>: sent by the InvokeTool consumer to the gateway's own
/// queue in the short inbox transaction that starts the call record, and consumed outside any database
/// transaction, so no connection is held while governance and the tool are asked. Carries the requester's
/// address (when InvokeTool was a request) so the answer still goes to it.
/// </summary>
public sealed record RunToolCall(
    Guid CallId,
    InvokeTool Call,
    string ArgumentsHash,
    DateTimeOffset ReceivedAt,
    Uri? ResponseAddress,
    Guid? RequestId);
