using Agents.Messaging.TestHost;
using Agents.Messaging.TestHost.Contracts;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

// Child-process modes used by the crash tests: do the work, commit, report, then wait to be killed.
// Delivery is disabled in the child so that the kill always lands between commit and publish.
// consume-hold: consume a DoWork with the inbox, commit, report, and never acknowledge it.
if (args.Length < 5)
{
    await Console.Error.WriteLineAsync("usage: <commit-work|schedule|consume-hold> <postgres> <rabbitmq> <queue-prefix> <id> [<cancelled-id> <due-unix-ms> | <message-id>]");
    return 2;
}

var (mode, postgres, rabbitMq, prefix, id) = (args[0], args[1], args[2], args[3], Guid.Parse(args[4]));
using var host = MessagingHost.Create(postgres, rabbitMq, prefix, s =>
{
    s.Consumers = mode == "consume-hold";
    s.HoldAfterConsume = mode == "consume-hold";
    s.DeliveryEnabled = false;
});
await host.StartAsync();

if (mode == "consume-hold")
{
    // The filter prints COMMITTED once the consumer's transaction has committed, then holds the message.
    var bus = host.Services.GetRequiredService<IBusControl>();
    await bus.WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(30));
    await bus.Publish(new DoWork(id), c => c.MessageId = Guid.Parse(args[5]));
    await Task.Delay(Timeout.InfiniteTimeSpan);
    return 0;
}

await using (var scope = host.Services.CreateAsyncScope())
{
    var db = scope.ServiceProvider.GetRequiredService<TestDbContext>();
    var time = scope.ServiceProvider.GetRequiredService<TimeProvider>();
    switch (mode)
    {
        case "commit-work":
            db.Effects.Add(new Effect { Key = id, Kind = "request", At = time.GetUtcNow().UtcDateTime });
            await scope.ServiceProvider.GetRequiredService<IPublishEndpoint>().Publish(new DoWork(id));
            await db.SaveChangesAsync();
            break;
        case "schedule":
            var scheduler = scope.ServiceProvider.GetRequiredService<IMessageScheduler>();
            var due = DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(args[6], System.Globalization.CultureInfo.InvariantCulture)).UtcDateTime;
            await scheduler.SchedulePublish(due, new Reminder(id));
            var cancelled = await scheduler.SchedulePublish(due, new Reminder(Guid.Parse(args[5])));
            await db.SaveChangesAsync();
            await scheduler.CancelScheduledPublish<Reminder>(cancelled.TokenId);
            break;
        default:
            await Console.Error.WriteLineAsync($"unknown mode {mode}");
            return 2;
    }
}

Console.WriteLine("COMMITTED");
await Task.Delay(Timeout.InfiniteTimeSpan);
return 0;
