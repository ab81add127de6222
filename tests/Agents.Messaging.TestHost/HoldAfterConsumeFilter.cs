using MassTransit;

namespace Agents.Messaging.TestHost;

/// <summary>
/// Outermost consume filter of the crash test's child: once the consumers (and their inbox transaction) are
/// done, it reports and waits forever, so the message stays unacknowledged until the process is killed.
/// </summary>
public sealed class HoldAfterConsumeFilter : IFilter<ConsumeContext>
{
    public async Task Send(ConsumeContext context, IPipe<ConsumeContext> next)
    {
        await next.Send(context);
        Console.WriteLine("COMMITTED");
        await Task.Delay(Timeout.InfiniteTimeSpan, CancellationToken.None);
    }

    public void Probe(ProbeContext context) => context.CreateFilterScope("holdAfterConsume");
}
