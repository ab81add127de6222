using Agents.Contracts;

namespace Agents.ToolGateway.Invocation;

/// <summary>
/// One run of an <see cref="InvokeTool"/>: the call record's <see cref="CallId"/>, the call, and where its answer goes
/// (the requester's address when InvokeTool was a request; otherwise the answer is published). <see cref="Recorded"/>
/// false: a read of a key that had no record, run without writing one first; its record is written with the outcome
/// (message <see cref="MessageId"/>), unless another run of the same key got there first.
/// </summary>
public sealed record RunToolCall(
    Guid CallId,
    InvokeTool Call,
    string ArgumentsHash,
    DateTimeOffset ReceivedAt,
    Uri? ResponseAddress,
    Guid? RequestId,
    bool Recorded = true,
    Guid? MessageId = null);
