using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Agents.ServiceDefaults.Http;

/// <summary>
/// Gives Kestrel's own refusals problem details. A request Kestrel cannot parse (a NUL, <c>%00</c>, in the path, a
/// request line or headers beyond its limits, a malformed header or host) is answered by Kestrel itself before any
/// middleware runs, with an empty body and <c>Connection: close</c>. A connection middleware watches what Kestrel writes
/// while no request of the connection is in the application: an error response with an empty body written then can
/// only be such a refusal, and gets a problem details body. What the application answers is passed on untouched.
/// </summary>
public static class KestrelRejections
{
    /// <summary>Adds the connection middleware to a Kestrel endpoint.</summary>
    public static void UseOn(ListenOptions listen) => listen.Use(next => async connection =>
    {
        var state = new ConnectionRequestState();
        connection.Features.Set(state);
        var transport = connection.Transport;
        connection.Transport = new WatchedTransport(transport, state);
        try
        {
            await next(connection);
        }
        finally
        {
            connection.Transport = transport;
        }
    });

    /// <summary>
    /// The problem details response that replaces a refusal's bare head, or null when <paramref name="written"/> is
    /// anything else (a response with a body, a success, or not HTTP/1.x).
    /// </summary>
    public static byte[]? ProblemResponseFor(ReadOnlySpan<byte> written)
    {
        var end = written.IndexOf("\r\n\r\n"u8);
        if (end < 0 || end + 4 != written.Length)
        {
            return null;
        }

        var lines = Encoding.ASCII.GetString(written[..end]).Split("\r\n");
        var statusLine = lines[0].Split(' ', 3);
        if (statusLine.Length < 2 || !statusLine[0].StartsWith("HTTP/1.", StringComparison.Ordinal)
            || !int.TryParse(statusLine[1], out var status) || status is < 400 or > 599)
        {
            return null;
        }

        var headers = lines.Skip(1).ToList();
        if (!headers.Any(h => h.Equals("Content-Length: 0", StringComparison.OrdinalIgnoreCase))
            || headers.Any(h => h.StartsWith("Content-Type:", StringComparison.OrdinalIgnoreCase) || h.StartsWith("Transfer-Encoding:", StringComparison.OrdinalIgnoreCase)))
        {
            return null;
        }

        var body = ProblemBody(status);
        var head = new StringBuilder().Append(lines[0]).Append("\r\n");
        foreach (var header in headers.Where(h => !h.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)))
        {
            head.Append(header).Append("\r\n");
        }

        head.Append("Content-Type: application/problem+json\r\nContent-Length: ").Append(body.Length).Append("\r\n\r\n");
        return [.. Encoding.ASCII.GetBytes(head.ToString()), .. body];
    }

    private static byte[] ProblemBody(int status)
    {
        var (type, title, detail) = status switch
        {
            StatusCodes.Status414UriTooLong => (ProblemTypes.UriTooLong, "The request line is too long.",
                $"The path and query are longer than the server reads at all; a query may have at most {RequestSizeLimits.MaxQueryLength} characters and {RequestSizeLimits.MaxQueryParameters} parameters. Nothing was processed."),
            StatusCodes.Status431RequestHeaderFieldsTooLarge => (ProblemTypes.HeadersTooLarge, "The request headers are too large.",
                $"A request may have at most {RequestSizeLimits.MaxHeaderCount} headers of {RequestSizeLimits.MaxHeadersBytes / 1024} KiB together; this one has far more. Nothing was processed."),
            StatusCodes.Status413PayloadTooLarge => (ProblemTypes.PayloadTooLarge, "The request body is too large.",
                "The request body is larger than the server accepts. Nothing was processed."),
            StatusCodes.Status408RequestTimeout => (ProblemTypes.MalformedRequest, "The request was not received in time.",
                "The request line, headers or body did not arrive in time. Nothing was processed; send the request again."),
            _ => (ProblemTypes.MalformedRequest, "The request could not be read.",
                "The server could not parse the request line or headers: for example a NUL (%00) or another control character in the path, a malformed header or Host, or an unsupported HTTP version. Nothing was processed; fix the request."),
        };

        return JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["type"] = type,
            ["title"] = title,
            ["status"] = status,
            ["detail"] = detail,
        });
    }

    /// <summary>Whether a request of the connection is in the application (its response is the application's).</summary>
    internal sealed class ConnectionRequestState
    {
        private volatile bool inApplication;

        public bool InApplication => inApplication;

        public void Enter(HttpContext context)
        {
            inApplication = true;
            context.Response.OnCompleted(() =>
            {
                inApplication = false;
                return Task.CompletedTask;
            });
        }
    }

    /// <summary>Marks each request as in the application, before any other middleware.</summary>
    internal sealed class TrackingStartupFilter : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((context, following) =>
            {
                context.Features.Get<ConnectionRequestState>()?.Enter(context);
                return following(context);
            });
            next(app);
        };
    }

    private sealed class WatchedTransport(IDuplexPipe inner, ConnectionRequestState state) : IDuplexPipe
    {
        public PipeReader Input => inner.Input;

        public PipeWriter Output { get; } = new WatchedWriter(inner.Output, state);
    }

    /// <summary>
    /// Passes the application's responses straight through; holds what is written while no request is in the
    /// application until it is flushed, and replaces it when it is a bare error response.
    /// </summary>
    private sealed class WatchedWriter(PipeWriter inner, ConnectionRequestState state) : PipeWriter
    {
        private ArrayBufferWriter<byte>? held;
        private bool holdingCurrent;

        public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

        public override long UnflushedBytes => inner.UnflushedBytes + (held?.WrittenCount ?? 0);

        public override Memory<byte> GetMemory(int sizeHint = 0)
        {
            holdingCurrent = !state.InApplication;
            return holdingCurrent ? (held ??= new ArrayBufferWriter<byte>()).GetMemory(sizeHint) : inner.GetMemory(sizeHint);
        }

        public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

        public override void Advance(int bytes)
        {
            if (holdingCurrent)
            {
                held!.Advance(bytes);
            }
            else
            {
                inner.Advance(bytes);
            }
        }

        public override async ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            Release();
            return await inner.FlushAsync(cancellationToken);
        }

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null)
        {
            Release();
            inner.Complete(exception);
        }

        public override async ValueTask CompleteAsync(Exception? exception = null)
        {
            Release();
            await inner.CompleteAsync(exception);
        }

        private void Release()
        {
            if (held is not { WrittenCount: > 0 })
            {
                return;
            }

            var written = held.WrittenSpan;
            inner.Write(ProblemResponseFor(written) ?? written);
            held.Clear();
        }
    }
}
