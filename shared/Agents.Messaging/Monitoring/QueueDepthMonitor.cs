using System.Diagnostics.Metrics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Serialization;
using Agents.ServiceDefaults.Messaging;
using Agents.ServiceDefaults.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Agents.Messaging.Monitoring;

/// <summary>Where and how often the broker's queues are measured (section <c>Messaging:QueueMetrics</c>).</summary>
public sealed class QueueMetricsOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Messaging:QueueMetrics";

    /// <summary>The RabbitMQ management API (for example <c>http://127.0.0.1:15672</c>); credentials and virtual host come from the broker URI.</summary>
    public Uri? ManagementUrl { get; set; }

    /// <summary>How often the queues are listed (one HTTP request per interval for all of them).</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// Lists the virtual host's durable queues (those of this platform: with the queue prefix when one is set) through the
/// RabbitMQ management API every <see cref="QueueMetricsOptions.Interval"/> and reports the messages ready in each as
/// <see cref="MessagingMetrics.QueueMessagesName"/>, tagged with the endpoint's queue and <c>agents.queue.kind</c>
/// (<c>work</c>, <c>error</c> for <c>&lt;queue&gt;_error</c>, <c>skipped</c> for <c>&lt;queue&gt;_skipped</c>).
/// One service runs it (governance), so the series exist once per platform. Temporary (auto-delete) queues are left out.
/// </summary>
internal sealed class QueueDepthMonitor : PeriodicMeasurement
{
    private const string ErrorSuffix = "_error";
    private const string SkippedSuffix = "_skipped";

    private readonly HttpClient _http;
    private readonly QueueMetricsOptions _options;
    private readonly BusOptions _bus;
    private volatile Measurement<long>[] _last = [];

    public QueueDepthMonitor(HttpClient http, IOptions<QueueMetricsOptions> options, IOptions<BusOptions> bus, TimeProvider time, IMeterFactory meters, ILogger<QueueDepthMonitor> logger)
        : base(time, logger)
    {
        _http = http;
        _options = options.Value;
        _bus = bus.Value;
        meters.Create(MessagingMetrics.MeterName).CreateObservableGauge(
            MessagingMetrics.QueueMessagesName, () => _last, "{message}", "Messages in each queue of the platform, by queue and kind (work, error, skipped).");
    }

    protected override TimeSpan Interval => _options.Interval;

    protected override string What => $"the broker's queues at {_options.ManagementUrl}";

    /// <inheritdoc />
    public override async Task MeasureAsync(CancellationToken cancellationToken)
    {
        var broker = new Uri(_bus.RabbitMq ?? throw new InvalidOperationException("The broker URI (ConnectionStrings:RabbitMq) is not set."));
        var vhost = broker.AbsolutePath.Trim('/') is { Length: > 0 } path ? Uri.UnescapeDataString(path) : "/";
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_options.ManagementUrl!, $"api/queues/{Uri.EscapeDataString(vhost)}?columns=name,messages,auto_delete"));
        var user = broker.UserInfo.Split(':', 2);
        var credentials = Uri.UnescapeDataString(user[0]) + ":" + (user.Length > 1 ? Uri.UnescapeDataString(user[1]) : string.Empty);
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials)));
        using var response = await _http.SendAsync(request, cancellationToken);
        response.EnsureSuccessStatusCode();
        var queues = await response.Content.ReadFromJsonAsync<List<QueueInfo>>(cancellationToken) ?? [];
        var prefix = _bus.QueuePrefix ?? string.Empty;
        var measurements = new List<Measurement<long>>(queues.Count);
        foreach (var queue in queues)
        {
            if (queue.AutoDelete || queue.Name is null || !queue.Name.StartsWith(prefix, StringComparison.Ordinal))
            {
                continue;
            }

            var (name, kind) = queue.Name.EndsWith(ErrorSuffix, StringComparison.Ordinal) ? (queue.Name[..^ErrorSuffix.Length], "error")
                : queue.Name.EndsWith(SkippedSuffix, StringComparison.Ordinal) ? (queue.Name[..^SkippedSuffix.Length], "skipped")
                : (queue.Name, "work");
            measurements.Add(new Measurement<long>(queue.Messages, new("messaging.destination.name", name), new("agents.queue.kind", kind)));
        }

        _last = [.. measurements];
    }

    private sealed record QueueInfo(
        [property: JsonPropertyName("name")] string? Name,
        [property: JsonPropertyName("messages")] long Messages,
        [property: JsonPropertyName("auto_delete")] bool AutoDelete);
}
