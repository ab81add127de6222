using System.Buffers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Options;

namespace Agents.ServiceDefaults.Http;

/// <summary>
/// Checks the JSON body of every write request (POST, PUT, PATCH) before the endpoint sees it, so that every
/// route of every service refuses bad input the same way and nothing of it is stored:
/// a body that is not JSON by its <c>Content-Type</c> is 415; a body over <see cref="MaxBodyBytes"/> is 413;
/// malformed JSON, a string (or field name) holding U+0000 or text that is not valid Unicode (a lone surrogate,
/// invalid UTF-8), a field given twice, a field the endpoint's request type does not have, or <c>null</c> where it
/// needs a value are 400, each naming the field. The request type is the endpoint's <see cref="IAcceptsMetadata"/>
/// (a bound body parameter, or <c>.Accepts&lt;T&gt;()</c> on a route that reads its body itself).
/// </summary>
public sealed class JsonRequestGuard(RequestDelegate next, IOptions<JsonOptions> json)
{
    /// <summary>The largest JSON body any service accepts (the gateway's own limit is the same).</summary>
    public const int MaxBodyBytes = 1024 * 1024;

    /// <summary>Checks the request, answering it with problem details when it is refused.</summary>
    public async Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        var endpoint = context.GetEndpoint();
        if (endpoint is null
            || !(HttpMethods.IsPost(request.Method) || HttpMethods.IsPut(request.Method) || HttpMethods.IsPatch(request.Method))
            || endpoint.Metadata.GetMetadata<RawRequestBodyAttribute>() is not null
            || !HasBody(context))
        {
            await next(context);
            return;
        }

        if (!request.HasJsonContentType())
        {
            await RequestProblems.WriteAsync(
                context,
                StatusCodes.Status415UnsupportedMediaType,
                ProblemTypes.UnsupportedMediaType,
                "The body must be JSON.",
                $"This route takes a JSON body with 'Content-Type: application/json'; the request has {(string.IsNullOrEmpty(request.ContentType) ? "no Content-Type" : $"'{request.ContentType}'")}.");
            return;
        }

        var body = await ReadBodyAsync(request, context.RequestAborted);
        if (body is null)
        {
            await RequestProblems.WriteAsync(
                context,
                StatusCodes.Status413PayloadTooLarge,
                ProblemTypes.PayloadTooLarge,
                "The request body is too large.",
                $"A request body may be at most {MaxBodyBytes / 1024} KiB.");
            return;
        }

        var errors = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        JsonBodyText.Check(body, errors);
        if (errors.Count == 0 && endpoint.Metadata.GetMetadata<IAcceptsMetadata>()?.RequestType is { } type && body.Length > 0)
        {
            using var document = JsonDocument.Parse(body);
            JsonBodyShape.Check(document.RootElement, type, json.Value.SerializerOptions, errors);
        }

        if (errors.Count > 0)
        {
            await RequestProblems.WriteValidationAsync(context, errors);
            return;
        }

        request.Body = new MemoryStream(body, writable: false);
        await next(context);
    }

    private static bool HasBody(HttpContext context) =>
        context.Request.ContentLength is > 0
        || (context.Request.ContentLength is null && context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody == true);

    /// <summary>The whole body, or null when it is larger than <see cref="MaxBodyBytes"/>.</summary>
    private static async Task<byte[]?> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentLength > MaxBodyBytes)
        {
            return null;
        }

        var buffer = new ArrayBufferWriter<byte>((int)(request.ContentLength ?? 4096));
        while (true)
        {
            var memory = buffer.GetMemory(16 * 1024);
            var read = await request.Body.ReadAsync(memory, cancellationToken);
            if (read == 0)
            {
                return buffer.WrittenSpan.ToArray();
            }

            buffer.Advance(read);
            if (buffer.WrittenCount > MaxBodyBytes)
            {
                return null;
            }
        }
    }
}

/// <summary>Reads a JSON body token by token and names every string that cannot be stored as text.</summary>
internal static class JsonBodyText
{
    private sealed class Frame(bool isObject)
    {
        public bool IsObject { get; } = isObject;

        public string? Property { get; set; }

        public int Index { get; set; } = -1;

        public HashSet<string> Seen { get; } = new(StringComparer.Ordinal);
    }

    public static void Check(byte[] body, IDictionary<string, List<string>> errors)
    {
        if (body.Length == 0)
        {
            Add(errors, "body", "The body is empty; send a JSON value.");
            return;
        }

        var reader = new Utf8JsonReader(body, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 64 });
        var path = new List<Frame>();
        try
        {
            while (reader.Read() && errors.Count < JsonBodyShape.MaxErrors)
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject:
                    case JsonTokenType.StartArray:
                        Advance(path);
                        path.Add(new Frame(reader.TokenType == JsonTokenType.StartObject));
                        break;
                    case JsonTokenType.EndObject:
                    case JsonTokenType.EndArray:
                        path.RemoveAt(path.Count - 1);
                        break;
                    case JsonTokenType.PropertyName:
                        var frame = path[^1];
                        frame.Property = null;
                        var name = ReadText(ref reader, errors, $"{Describe(path)} (a field name)");
                        frame.Property = name ?? "?";
                        if (name is not null && !frame.Seen.Add(name))
                        {
                            Add(errors, Describe(path), "is given twice; give each field once.");
                        }

                        break;
                    case JsonTokenType.String:
                        Advance(path);
                        ReadText(ref reader, errors, Describe(path));
                        break;
                    default:
                        Advance(path);
                        break;
                }
            }
        }
        catch (JsonException ex)
        {
            var near = Describe(path) is var at && at != "body" ? $", after '{at}'" : string.Empty;
            Add(errors, "body", $"The body is not valid JSON (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1}{near}): fix the syntax.");
        }
    }

    private static string? ReadText(ref Utf8JsonReader reader, IDictionary<string, List<string>> errors, string at)
    {
        string text;
        try
        {
            text = reader.GetString()!;
        }
        catch (InvalidOperationException)
        {
            Add(errors, at, "is not valid Unicode text (a lone surrogate or invalid UTF-8); send well-formed text.");
            return null;
        }

        if (text.Contains('\0', StringComparison.Ordinal))
        {
            Add(errors, at, "contains a NUL character (\\u0000), which cannot be stored; remove it.");
        }

        return text;
    }

    /// <summary>Moves an array's index on when a value starts in it.</summary>
    private static void Advance(List<Frame> path)
    {
        if (path.Count > 0 && !path[^1].IsObject)
        {
            path[^1].Index++;
        }
    }

    private static string Describe(List<Frame> path)
    {
        var text = new StringBuilder();
        foreach (var frame in path)
        {
            if (frame.IsObject)
            {
                if (frame.Property is { } property)
                {
                    text.Append(text.Length == 0 ? string.Empty : ".").Append(property);
                }
            }
            else if (frame.Index >= 0)
            {
                text.Append('[').Append(frame.Index).Append(']');
            }
        }

        return text.Length == 0 ? "body" : text.ToString();
    }

    private static void Add(IDictionary<string, List<string>> errors, string at, string message)
    {
        if (!errors.TryGetValue(at, out var list))
        {
            errors[at] = list = [];
        }

        list.Add(message);
    }
}
