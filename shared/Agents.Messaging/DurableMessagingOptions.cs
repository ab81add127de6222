namespace Agents.Messaging;

/// <summary>
/// Settings of the durable-messaging pieces registered by <c>AddAgentsDurableMessaging</c>: code first, then the
/// configuration section <see cref="Section"/> (<c>Messaging:Durable:RemoveSentRows</c> and so on).
/// </summary>
public sealed class DurableMessagingOptions
{
    /// <summary>The configuration section bound over the settings given in code.</summary>
    public const string Section = "Messaging:Durable";

    /// <summary>Outbox rows claimed per sweep transaction.</summary>
    public int DeliveryBatchSize { get; set; } = 100;

    /// <summary>
    /// How often the delivery service sweeps the outbox table for rows it was not handed in memory: rows
    /// left by a process that died between commit and send, rows its memory path could not send, scheduled
    /// rows that became due (it also wakes at the next due time).
    /// </summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often the outbox backlog and the age of its oldest row are measured for the metrics.</summary>
    public TimeSpan BacklogInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Age (since the row was stored) before the sweep takes an unscheduled row: until then the process
    /// that committed it is expected to send it from memory, so a replica's sweep does not send it a second
    /// time. It is also how long a row left by a process that died waits before another process sends it.
    /// </summary>
    public TimeSpan SweepGracePeriod { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Outbox rows sent from memory at once (each waits for the broker's confirmation).</summary>
    public int DeliveryConcurrency { get; set; } = 64;

    /// <summary>Committed rows waiting in memory to be sent; beyond it they are left to the sweep.</summary>
    public int DeliveryQueueCapacity { get; set; } = 10_000;

    /// <summary>
    /// What happens to a row once the broker has confirmed it: true (the default) deletes it at once, one statement
    /// per batch, so the table holds only rows still to send and its cost does not grow with the messages sent
    /// (kept rows were updated once more, indexed, vacuumed and deleted again later); false marks it delivered, one
    /// statement per batch, and the retention cleanup removes it after <see cref="RetentionWindow"/>, so that what was
    /// sent can still be read from the table.
    /// </summary>
    public bool RemoveSentRows { get; set; } = true;

    /// <summary>
    /// How long the confirmations of rows sent from memory gather before one statement settles them all (deletes or marks
    /// them, <see cref="RemoveSentRows"/>). Each settling is a commit of its own, so a longer interval means fewer commits
    /// per message at a steady rate (at 1 s and 50 messages a second, one commit settles about 50 rows). A row confirmed but
    /// not yet settled is only ever sent again after a crash (the local sweep leaves it alone, another replica's sweep takes
    /// only rows older than <see cref="SweepGracePeriod"/>), so it must stay well below that period.
    /// </summary>
    public TimeSpan SettleInterval { get; set; } = TimeSpan.FromSeconds(1);

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

    /// <summary>The service's own bookkeeping tables that the retention cleanup also keeps short (<see cref="Retain"/>).</summary>
    public IList<RetentionRule> AdditionalRetention { get; } = [];

    /// <summary>
    /// Has the retention cleanup also remove rows of <paramref name="table"/> whose <paramref name="timeColumn"/> is older
    /// than <paramref name="window"/>: for a service's own bookkeeping (duplicate-detection keys and the like), never for
    /// records people read. Names are plain lower-case SQL identifiers.
    /// </summary>
    public DurableMessagingOptions Retain(string table, string timeColumn, TimeSpan window)
    {
        AdditionalRetention.Add(new RetentionRule(table, timeColumn, window));
        return this;
    }

    /// <summary>
    /// Attempts of one message when the database reports a conflict (saga optimistic concurrency,
    /// a duplicate saga insert, a serialization failure), before the error is handed to the bus retry policy.
    /// </summary>
    public int ConcurrencyRetryLimit { get; set; } = 100;
}

/// <summary>Rows of <see cref="Table"/> older than <see cref="Window"/> (by <see cref="TimeColumn"/>) are removed by the retention cleanup.</summary>
public sealed record RetentionRule(string Table, string TimeColumn, TimeSpan Window)
{
    /// <summary>Why the rule cannot be used, or null.</summary>
    public string? Problem =>
        !IsIdentifier(Table) || !IsIdentifier(TimeColumn) ? $"Retention rule {Table}.{TimeColumn}: table and column must be lower-case SQL identifiers (a-z, 0-9, _)."
        : Window <= TimeSpan.Zero ? $"Retention rule {Table}.{TimeColumn}: the window must be positive."
        : null;

    private static bool IsIdentifier(string? name) =>
        name is { Length: > 0 and <= 63 } && (char.IsAsciiLetterLower(name[0]) || name[0] == '_')
        && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_');
}
