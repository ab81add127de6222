using System.Diagnostics.Metrics;

namespace Agents.Messaging.Tests;

/// <summary>Listens to the library's counters while alive (tests in the messaging collection run one at a time).</summary>
internal sealed class SentCounter : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _sent = new();
    private long _duplicates;
    private long _settleStatements;
    private long _settledRows;

    public SentCounter()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == MessagingMetrics.MeterName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            if (instrument.Name == MessagingMetrics.InboxDuplicatesName)
            {
                Interlocked.Add(ref _duplicates, value);
                return;
            }

            foreach (var tag in tags)
            {
                if (tag.Key == "path")
                {
                    _sent.AddOrUpdate((string)tag.Value!, value, (_, total) => total + value);
                }
            }
        });
        _listener.SetMeasurementEventCallback<int>((instrument, value, _, _) =>
        {
            if (instrument.Name == MessagingMetrics.OutboxSettleBatchName)
            {
                Interlocked.Increment(ref _settleStatements);
                Interlocked.Add(ref _settledRows, value);
            }
        });
        _listener.Start();
    }

    /// <summary>Outbox rows sent from memory right after their commit.</summary>
    public long Memory => _sent.GetValueOrDefault("memory");

    /// <summary>Outbox rows sent by the sweep.</summary>
    public long Sweep => _sent.GetValueOrDefault("sweep");

    /// <summary>Outbox rows saved in an explicit transaction and claimed after it.</summary>
    public long Claim => _sent.GetValueOrDefault("claim");

    /// <summary>Statements that marked delivered (or removed) rows sent from memory.</summary>
    public long SettleStatements => Interlocked.Read(ref _settleStatements);

    /// <summary>Rows those statements settled.</summary>
    public long SettledRows => Interlocked.Read(ref _settledRows);

    /// <summary>Redeliveries the inbox acknowledged without running the consumer.</summary>
    public long Duplicates => Interlocked.Read(ref _duplicates);

    public void Dispose() => _listener.Dispose();
}
