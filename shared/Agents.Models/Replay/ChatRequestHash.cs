using System.Security.Cryptography;
using System.Text.Json;
using Agents.Models.Deterministic;
using Microsoft.Extensions.AI;

namespace Agents.Models.Replay;

/// <summary>
/// A stable fingerprint of a chat request: what shapes the answer (messages, model id, instructions,
/// response format, deterministic responder key), not transport details (ids, timestamps, token caps).
/// Use it to key recorded responses for <see cref="ReplayChatClient"/>.
/// </summary>
public static class ChatRequestHash
{
    /// <summary>Lowercase hexadecimal SHA-256 of the request's canonical JSON form.</summary>
    public static string Compute(IEnumerable<ChatMessage> messages, ChatOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("model", options?.ModelId);
            json.WriteString("instructions", options?.Instructions);
            switch (options?.ResponseFormat)
            {
                case ChatResponseFormatJson format:
                    json.WriteString("format", "json");
                    json.WriteString("schemaName", format.SchemaName);
                    if (format.Schema is { } schema)
                    {
                        json.WritePropertyName("schema");
                        schema.WriteTo(json);
                    }

                    break;
                case ChatResponseFormatText:
                    json.WriteString("format", "text");
                    break;
            }

            if (options?.AdditionalProperties?.TryGetValue(DeterministicChatClient.ResponderKeyProperty, out var responder) == true)
            {
                json.WriteString("responder", responder?.ToString());
            }

            json.WriteStartArray("messages");
            foreach (var message in messages)
            {
                json.WriteStartObject();
                json.WriteString("role", message.Role.Value);
                json.WriteStartArray("contents");
                foreach (var content in message.Contents)
                {
                    WriteContent(json, content);
                }

                json.WriteEndArray();
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return Convert.ToHexStringLower(SHA256.HashData(buffer.ToArray()));
    }

    private static void WriteContent(Utf8JsonWriter json, AIContent content)
    {
        json.WriteStartObject();
        switch (content)
        {
            case TextContent text:
                json.WriteString("text", text.Text);
                break;
            case FunctionCallContent call:
                json.WriteString("call", call.Name);
                json.WriteString("callId", call.CallId);
                json.WritePropertyName("arguments");
                JsonSerializer.Serialize(json, call.Arguments, AIJsonUtilities.DefaultOptions);
                break;
            case FunctionResultContent result:
                json.WriteString("result", result.CallId);
                json.WritePropertyName("value");
                JsonSerializer.Serialize(json, result.Result, AIJsonUtilities.DefaultOptions);
                break;
            case DataContent data:
                json.WriteString("mediaType", data.MediaType);
                json.WriteString("data", Convert.ToHexStringLower(SHA256.HashData(data.Data.Span)));
                break;
            default:
                json.WriteString("type", content.GetType().Name);
                break;
        }

        json.WriteEndObject();
    }
}
