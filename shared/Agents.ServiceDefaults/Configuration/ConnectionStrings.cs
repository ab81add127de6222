using Npgsql;

namespace Agents.ServiceDefaults.Configuration;

/// <summary>A RabbitMQ broker address parsed from an <c>amqp://</c> or <c>amqps://</c> URI.</summary>
public sealed record RabbitMqEndpoint(string Host, ushort Port, string VirtualHost, string Username, string Password, bool UseTls);

/// <summary>
/// Parses the connection strings every service needs and explains, naming the setting,
/// what is wrong with them. Used by options validation so that a bad value stops a service
/// at start rather than at its first message.
/// </summary>
public static class ConnectionStrings
{
    /// <summary>Configuration key of the PostgreSQL connection string.</summary>
    public const string PostgresKey = "ConnectionStrings:Postgres";

    /// <summary>Configuration key of the RabbitMQ connection URI.</summary>
    public const string RabbitMqKey = "ConnectionStrings:RabbitMq";

    /// <summary>Returns null when <paramref name="value"/> is a usable PostgreSQL connection string, else the reason.</summary>
    public static string? ValidatePostgres(string? value, string settingName = PostgresKey)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return $"{settingName} is missing. Set it to a PostgreSQL connection string, e.g. 'Host=127.0.0.1;Port=5432;Database=agents_executor;Username=agents;Password=...'.";
        }

        NpgsqlConnectionStringBuilder parsed;
        try
        {
            parsed = new NpgsqlConnectionStringBuilder(value);
        }
        catch (ArgumentException ex)
        {
            return $"{settingName} is not a valid PostgreSQL connection string: {ex.Message}";
        }

        if (string.IsNullOrWhiteSpace(parsed.Host))
        {
            return $"{settingName} has no Host.";
        }

        return string.IsNullOrWhiteSpace(parsed.Database) ? $"{settingName} has no Database." : null;
    }

    /// <summary>Parses an <c>amqp://user:password@host:port/vhost</c> URI, or explains what is wrong with it.</summary>
    public static RabbitMqEndpoint ParseRabbitMq(string? value, string settingName = RabbitMqKey)
    {
        var error = TryParseRabbitMq(value, settingName, out var endpoint);
        return error is null ? endpoint! : throw new FormatException(error);
    }

    /// <summary>Returns null and the endpoint when <paramref name="value"/> is usable, else the reason.</summary>
    public static string? TryParseRabbitMq(string? value, string settingName, out RabbitMqEndpoint? endpoint)
    {
        endpoint = null;
        if (string.IsNullOrWhiteSpace(value))
        {
            return $"{settingName} is missing. Set it to an AMQP URI, e.g. 'amqp://agents:agents@127.0.0.1:5672/'.";
        }

        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || (uri.Scheme != "amqp" && uri.Scheme != "amqps"))
        {
            return $"{settingName} is not a valid AMQP URI (expected 'amqp://user:password@host:port/vhost'): '{Redact(value)}'.";
        }

        if (string.IsNullOrEmpty(uri.Host))
        {
            return $"{settingName} has no host.";
        }

        var tls = uri.Scheme == "amqps";
        var port = uri.IsDefaultPort || uri.Port < 0 ? (ushort)(tls ? 5671 : 5672) : (ushort)uri.Port;
        var user = "guest";
        var password = "guest";
        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            var parts = uri.UserInfo.Split(':', 2);
            user = Uri.UnescapeDataString(parts[0]);
            password = parts.Length > 1 ? Uri.UnescapeDataString(parts[1]) : string.Empty;
        }

        var vhost = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        endpoint = new RabbitMqEndpoint(uri.Host, port, vhost.Length == 0 ? "/" : vhost, user, password, tls);
        return null;
    }

    private static string Redact(string value)
    {
        var at = value.LastIndexOf('@');
        var scheme = value.IndexOf("://", StringComparison.Ordinal);
        return at > 0 && scheme > 0 && at > scheme ? value[..(scheme + 3)] + "***" + value[at..] : value;
    }
}
