using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Agents.ToolGateway.Invocation;

/// <summary>
/// The arguments hash that governance binds approvals to: lower-case hex SHA-256 of the UTF-8 bytes
/// of the arguments' canonical JSON. Canonical JSON (close to RFC 8785):
/// <list type="bullet">
/// <item>no whitespace outside strings;</item>
/// <item>object members sorted by name, ordinal over UTF-16 code units; a duplicate name is an error;</item>
/// <item>strings escape only <c>"</c>, <c>\</c> and control characters (<c>\b \f \n \r \t</c>, others as
/// <c>\u00xx</c> lower-case); everything else is written as itself in UTF-8;</item>
/// <item>numbers in their shortest exact decimal form: no exponent, no trailing zeros, no "+", "-0" as
/// "0" (<c>1.50</c>, <c>1.5e0</c> and <c>15E-1</c> are all <c>1.5</c>); numbers outside the range of
/// <see cref="decimal"/> fall back to the shortest round-trip double form;</item>
/// <item>array order, <c>true</c>, <c>false</c>, <c>null</c> as they are.</item>
/// </list>
/// So formatting and member order do not change the hash; any change of a value does.
/// </summary>
public static class ArgumentsHasher
{
    /// <summary>The hash of <paramref name="argumentsJson"/>; throws <see cref="JsonException"/> when it is not JSON.</summary>
    public static string Compute(string argumentsJson) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Canonicalize(argumentsJson))));

    /// <summary>The canonical JSON text of <paramref name="json"/>.</summary>
    public static string Canonicalize(string json)
    {
        using var document = JsonDocument.Parse(json);
        var builder = new StringBuilder(json.Length);
        Write(document.RootElement, builder);
        return builder.ToString();
    }

    private static void Write(JsonElement element, StringBuilder output)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                var members = element.EnumerateObject().ToList();
                members.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
                output.Append('{');
                for (var i = 0; i < members.Count; i++)
                {
                    if (i > 0)
                    {
                        if (string.Equals(members[i - 1].Name, members[i].Name, StringComparison.Ordinal))
                        {
                            throw new JsonException($"The member '{members[i].Name}' appears more than once.");
                        }

                        output.Append(',');
                    }

                    WriteString(members[i].Name, output);
                    output.Append(':');
                    Write(members[i].Value, output);
                }

                output.Append('}');
                break;
            case JsonValueKind.Array:
                output.Append('[');
                var first = true;
                foreach (var item in element.EnumerateArray())
                {
                    if (!first)
                    {
                        output.Append(',');
                    }

                    first = false;
                    Write(item, output);
                }

                output.Append(']');
                break;
            case JsonValueKind.String:
                WriteString(element.GetString()!, output);
                break;
            case JsonValueKind.Number:
                output.Append(CanonicalNumber(element.GetRawText()));
                break;
            case JsonValueKind.True:
                output.Append("true");
                break;
            case JsonValueKind.False:
                output.Append("false");
                break;
            default:
                output.Append("null");
                break;
        }
    }

    private static string CanonicalNumber(string raw)
    {
        if (decimal.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
        {
            // "G29"-style formatting without exponent: strip trailing zeros of the exact decimal.
            var text = value.ToString("0.############################", CultureInfo.InvariantCulture);
            return text == "-0" ? "0" : text;
        }

        var number = double.Parse(raw, NumberStyles.Float, CultureInfo.InvariantCulture);
        return number.ToString("R", CultureInfo.InvariantCulture);
    }

    private static void WriteString(string value, StringBuilder output)
    {
        output.Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"':
                    output.Append("\\\"");
                    break;
                case '\\':
                    output.Append("\\\\");
                    break;
                case '\b':
                    output.Append("\\b");
                    break;
                case '\f':
                    output.Append("\\f");
                    break;
                case '\n':
                    output.Append("\\n");
                    break;
                case '\r':
                    output.Append("\\r");
                    break;
                case '\t':
                    output.Append("\\t");
                    break;
                default:
                    if (c < 0x20)
                    {
                        output.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        output.Append(c);
                    }

                    break;
            }
        }

        output.Append('"');
    }
}
