namespace Agents.Messaging;

/// <summary>Settings of the durable-messaging pieces registered by <c>AddAgentsDurableMessaging</c>.</summary>
public sealed class DurableMessagingOptions
{
    /// <summary>Outbox rows sent per delivery transaction.</summary>
    public int DeliveryBatchSize { get; set; } = 100;

    /// <summary>
    /// How often the delivery service looks for rows without being woken: rows committed by another
    /// replica, rows left by a process that died, scheduled rows that became due.
    /// </summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Timeout for one send to the broker during delivery.</summary>
    public TimeSpan SendTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>When false, this process stores outgoing messages but never delivers them (another replica does).</summary>
    public bool DeliveryEnabled { get; set; } = true;

    /// <summary>
    /// How long inbox records (the duplicate-detection window) and delivered outbox rows are kept.
    /// A message redelivered later than this is treated as new.
    /// </summary>
    public TimeSpan RetentionWindow { get; set; } = TimeSpan.FromDays(7);

    /// <summary>How often the retention cleanup runs.</summary>
    public TimeSpan RetentionInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Rows removed per cleanup statement (keeps each delete short).</summary>
    public int RetentionBatchSize { get; set; } = 5000;

    /// <summary>
    /// Attempts of one message when the database reports a conflict (saga optimistic concurrency,
    /// a duplicate saga insert, a serialization failure), before the error is handed to the bus retry policy.
    /// </summary>
    public int ConcurrencyRetryLimit { get; set; } = 100;
}
