using System.Net.Sockets;
using System.Text;

namespace Agents.Testing;

/// <summary>
/// Sends requests as bytes over one TCP connection, for what <see cref="HttpClient"/> refuses to send or normalizes
/// (a NUL in the path, a request line of hundreds of KiB), and reads the answers as the server wrote them.
/// </summary>
public sealed class RawHttp : IAsyncDisposable
{
    private readonly TcpClient client = new();
    private NetworkStream stream = null!;
    private readonly List<byte> pending = [];

    public static async Task<RawHttp> ConnectAsync(Uri server)
    {
        var raw = new RawHttp();
        await raw.client.ConnectAsync(server.Host, server.Port);
        raw.stream = raw.client.GetStream();
        return raw;
    }

    /// <summary>Sends one request: <paramref name="target"/> as written, the given headers, no body.</summary>
    public async Task<RawResponse> SendAsync(string method, string target, params string[] headers)
    {
        var request = new StringBuilder($"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        foreach (var header in headers)
        {
            request.Append(header).Append("\r\n");
        }

        await stream.WriteAsync(Encoding.Latin1.GetBytes(request.Append("\r\n").ToString()));
        return await ReadResponseAsync(method == "HEAD");
    }

    private async Task<RawResponse> ReadResponseAsync(bool noBody)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var buffer = new byte[64 * 1024];
        int headEnd;
        while ((headEnd = IndexOfHeadEnd()) < 0)
        {
            var read = await stream.ReadAsync(buffer, timeout.Token);
            if (read == 0)
            {
                throw new IOException($"The connection closed before a response head: '{Encoding.Latin1.GetString([.. pending])}'");
            }

            pending.AddRange(buffer.AsSpan(0, read));
        }

        var lines = Encoding.Latin1.GetString(pending.GetRange(0, headEnd).ToArray()).Split("\r\n");
        var headers = lines.Skip(1).Select(l => l.Split(':', 2)).ToDictionary(p => p[0].Trim(), p => p[1].Trim(), StringComparer.OrdinalIgnoreCase);
        pending.RemoveRange(0, headEnd + 4);
        string body;
        if (!noBody && headers.TryGetValue("Transfer-Encoding", out var coding) && coding.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            var decoded = new List<byte>();
            while (true)
            {
                int lineEnd;
                while ((lineEnd = IndexOf("\r\n"u8, 0)) < 0)
                {
                    await FillAsync(buffer, timeout.Token);
                }

                var size = Convert.ToInt32(Encoding.ASCII.GetString([.. pending.GetRange(0, lineEnd)]).Split(';')[0], 16);
                while (pending.Count < lineEnd + 2 + size + 2)
                {
                    await FillAsync(buffer, timeout.Token);
                }

                decoded.AddRange(pending.GetRange(lineEnd + 2, size));
                pending.RemoveRange(0, lineEnd + 2 + size + 2);
                if (size == 0)
                {
                    break;
                }
            }

            body = Encoding.UTF8.GetString([.. decoded]);
        }
        else
        {
            var length = noBody || !headers.TryGetValue("Content-Length", out var value) ? 0 : int.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
            while (pending.Count < length)
            {
                await FillAsync(buffer, timeout.Token);
            }

            body = Encoding.UTF8.GetString([.. pending.GetRange(0, length)]);
            pending.RemoveRange(0, length);
        }

        return new RawResponse(int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture), headers, body);
    }

    private async Task FillAsync(byte[] buffer, CancellationToken cancellationToken)
    {
        var read = await stream.ReadAsync(buffer, cancellationToken);
        if (read == 0)
        {
            throw new IOException("The connection closed inside a response body.");
        }

        pending.AddRange(buffer.AsSpan(0, read));
    }

    private int IndexOfHeadEnd() => IndexOf("\r\n\r\n"u8, 0);

    private int IndexOf(ReadOnlySpan<byte> value, int start)
    {
        for (var i = start; i + value.Length <= pending.Count; i++)
        {
            var match = true;
            for (var j = 0; j < value.Length && match; j++)
            {
                match = pending[i + j] == value[j];
            }

            if (match)
            {
                return i;
            }
        }

        return -1;
    }

    public ValueTask DisposeAsync()
    {
        client.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>A response as read from the connection.</summary>
public sealed record RawResponse(int Status, IReadOnlyDictionary<string, string> Headers, string Body)
{
    public string? ContentType => Headers.TryGetValue("Content-Type", out var value) ? value : null;
}
