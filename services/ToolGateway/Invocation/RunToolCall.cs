using Agents.Contracts;

namespace Agents.ToolGateway.Invocation;

/// <summary>
/// One run of an <see cref="InvokeTool"/>: the call record's <see cref="CallId"/>, the call, and where its answer goes
/// (the requester's address when InvokeTool was a request; otherwise the answer is published).
/// </summary>
public sealed record RunToolCall(
    Guid CallId,
    InvokeTool Call,
    string ArgumentsHash,
    DateTimeOffset ReceivedAt,
    Uri? ResponseAddress,
    Guid? RequestId);
