using System.Collections.Concurrent;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace Agents.EndToEnd.Tests;

/// <summary>
/// A stand-in for a trace backend: an OTLP/HTTP (protobuf) receiver on loopback that keeps every span it is sent, with the
/// service that sent it. It reads only what the tests ask about (service name, trace id, span name, the span's attributes
/// as text) from the protobuf encoding of <c>ExportTraceServiceRequest</c>; metrics and logs are accepted and dropped.
/// </summary>
internal sealed class OtlpTraceReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ReceivedSpan> _spans = new();

    private OtlpTraceReceiver(WebApplication app) => _app = app;

    public Uri Address => new(_app.Urls.First());

    public IReadOnlyCollection<ReceivedSpan> Spans => _spans;

    public static OtlpTraceReceiver Start()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var receiver = new OtlpTraceReceiver(app);
        app.MapPost("/v1/traces", async (HttpContext http) =>
        {
            using var body = new MemoryStream();
            await http.Request.Body.CopyToAsync(body);
            foreach (var span in Decode(body.ToArray()))
            {
                receiver._spans.Enqueue(span);
            }

            return Results.Bytes([], "application/x-protobuf");
        });
        app.MapPost("/v1/{signal}", () => Results.Bytes([], "application/x-protobuf"));
        app.StartAsync().GetAwaiter().GetResult();
        return receiver;
    }

    /// <summary>The spans of an <c>ExportTraceServiceRequest</c>: resource_spans(1) → resource(1).attributes(1), scope_spans(2) → spans(2).</summary>
    private static IEnumerable<ReceivedSpan> Decode(byte[] request)
    {
        foreach (var (field, resourceSpans) in Fields(request))
        {
            if (field != 1)
            {
                continue;
            }

            var service = "(unknown)";
            var spans = new List<(string TraceId, string Name, Dictionary<string, string> Attributes)>();
            foreach (var (part, value) in Fields(resourceSpans))
            {
                if (part == 1)
                {
                    foreach (var (attributeField, attribute) in Fields(value))
                    {
                        if (attributeField == 1 && KeyValue(attribute) is ("service.name", { } name))
                        {
                            service = name;
                        }
                    }
                }
                else if (part == 2)
                {
                    foreach (var (scopeField, span) in Fields(value))
                    {
                        if (scopeField == 2)
                        {
                            var fields = Fields(span).ToList();
                            var traceId = fields.FirstOrDefault(f => f.Field == 1).Value;
                            var spanName = fields.FirstOrDefault(f => f.Field == 5).Value;
                            var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
                            foreach (var (_, attribute) in fields.Where(f => f.Field == 9))
                            {
                                if (KeyValue(attribute) is ({ Length: > 0 } key, { } text))
                                {
                                    attributes[key] = text;
                                }
                            }

                            spans.Add((traceId is null ? "" : Convert.ToHexStringLower(traceId), spanName is null ? "" : Encoding.UTF8.GetString(spanName), attributes));
                        }
                    }
                }
            }

            foreach (var (traceId, name, attributes) in spans)
            {
                yield return new ReceivedSpan(service, traceId, name, attributes);
            }
        }
    }

    /// <summary>A <c>KeyValue</c>: key(1), value(2) as text (a string, a bool, an int or a double; null for others).</summary>
    private static (string Key, string? Value) KeyValue(byte[] keyValue)
    {
        string key = "";
        string? value = null;
        foreach (var (field, bytes) in Fields(keyValue))
        {
            if (field == 1)
            {
                key = Encoding.UTF8.GetString(bytes);
            }
            else if (field == 2)
            {
                value = AnyValueText(bytes);
            }
        }

        return (key, value);
    }

    /// <summary>An <c>AnyValue</c> as text: string_value(1), bool_value(2), int_value(3), double_value(4).</summary>
    private static string? AnyValueText(byte[] any)
    {
        var position = 0;
        while (position < any.Length)
        {
            var tag = ReadVarint(any, ref position);
            var field = (int)(tag >> 3);
            switch (tag & 7)
            {
                case 0:
                    var number = ReadVarint(any, ref position);
                    return field == 2 ? (number != 0 ? "true" : "false") : ((long)number).ToString(System.Globalization.CultureInfo.InvariantCulture);
                case 1:
                    var real = BitConverter.ToDouble(any, position);
                    position += 8;
                    return real.ToString(System.Globalization.CultureInfo.InvariantCulture);
                case 2:
                    var length = (int)ReadVarint(any, ref position);
                    var bytes = any[position..(position + length)];
                    position += length;
                    if (field == 1)
                    {
                        return Encoding.UTF8.GetString(bytes);
                    }

                    break;
                case 5:
                    position += 4;
                    break;
                default:
                    return null;
            }
        }

        return null;
    }

    /// <summary>The length-delimited fields of a protobuf message (others are skipped).</summary>
    private static IEnumerable<(int Field, byte[] Value)> Fields(byte[] message)
    {
        var position = 0;
        while (position < message.Length)
        {
            var tag = ReadVarint(message, ref position);
            var field = (int)(tag >> 3);
            switch (tag & 7)
            {
                case 0:
                    ReadVarint(message, ref position);
                    break;
                case 1:
                    position += 8;
                    break;
                case 5:
                    position += 4;
                    break;
                case 2:
                    var length = (int)ReadVarint(message, ref position);
                    yield return (field, message[position..(position + length)]);
                    position += length;
                    break;
                default:
                    throw new InvalidDataException($"Unexpected protobuf wire type {tag & 7}.");
            }
        }
    }

    private static ulong ReadVarint(byte[] message, ref int position)
    {
        ulong value = 0;
        for (var shift = 0; ; shift += 7)
        {
            var b = message[position++];
            value |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}

/// <summary>One span as received: the sending service (<c>service.name</c>), its trace id (hex) and its name.</summary>
internal sealed record ReceivedSpan(string Service, string TraceId, string Name, IReadOnlyDictionary<string, string> Attributes);
