using System.Collections;
using MassTransit;

namespace Agents.Messaging.Inbox;

/// <summary>Part of a batch: the messages of <c>batch</c> that a consumer still has to see.</summary>
internal sealed class InboxBatch<T>(Batch<T> batch, IReadOnlyList<ConsumeContext<T>> messages) : Batch<T>
    where T : class
{
    public BatchCompletionMode Mode => batch.Mode;

    public DateTime FirstMessageReceived => batch.FirstMessageReceived;

    public DateTime LastMessageReceived => batch.LastMessageReceived;

    public int Length => messages.Count;

    public ConsumeContext<T> this[int index] => messages[index];

    public IEnumerator<ConsumeContext<T>> GetEnumerator() => messages.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
