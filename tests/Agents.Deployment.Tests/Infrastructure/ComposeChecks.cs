using System.Text.Json.Nodes;

namespace Agents.Deployment.Tests.Infrastructure;

/// <summary>Rules for the rendered docker-compose.yml (`docker-compose config`); each problem names the service.</summary>
internal static class ComposeChecks
{
    /// <summary>Services allowed to publish ports on the host.</summary>
    public static readonly string[] Published = ["gateway", "rabbitmq", "jaeger", "prometheus", "grafana"];

    public static JsonObject Services(JsonObject compose) =>
        compose["services"] as JsonObject ?? throw new InvalidOperationException("docker-compose config printed no services.");

    /// <summary>Environment variable names set on a compose service (environment, env_file already merged by `config`).</summary>
    public static HashSet<string> EnvironmentOf(JsonObject service)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        switch (service["environment"])
        {
            case JsonObject map:
                names.UnionWith(map.Where(p => p.Value is not null).Select(p => p.Key));
                break;
            case JsonArray list:
                names.UnionWith(list.Select(e => e?.ToString() ?? string.Empty).Where(e => e.Contains('=', StringComparison.Ordinal)).Select(e => e.Split('=', 2)[0]));
                break;
        }

        return names;
    }

    public static string? EnvironmentValue(JsonObject service, string name) => service.At("environment", name)?.ToString();

    public static List<string> CheckHost(JsonObject compose, HostProject host)
    {
        var problems = new List<string>();
        var services = Services(compose);
        if (services[host.Name] is not JsonObject service)
        {
            problems.Add($"docker-compose.yml: no service '{host.Name}' for {host.ProjectPath}.");
            return problems;
        }

        problems.AddRange(CheckBuild(service, host, host.Name));

        var healthcheck = service.Strings("healthcheck", "test");
        if (!healthcheck.Any(t => t.Contains("/health/ready", StringComparison.Ordinal)))
        {
            problems.Add($"docker-compose.yml: service '{host.Name}' has no healthcheck on /health/ready (found: [{string.Join(", ", healthcheck)}]).");
        }

        var environment = EnvironmentOf(service);
        foreach (var key in host.RequiredKeys.Where(k => !environment.Contains(k)))
        {
            problems.Add($"docker-compose.yml: service '{host.Name}' does not set {key} (required: {Reason(key)}).");
        }

        var urls = EnvironmentValue(service, "Urls");
        if (urls is not null && !urls.Contains(":8080", StringComparison.Ordinal))
        {
            problems.Add($"docker-compose.yml: service '{host.Name}' listens on '{urls}', not on port 8080.");
        }

        if (host.OwnsDatabase)
        {
            problems.AddRange(CheckMigration(services, service, host));
            var connection = EnvironmentValue(service, "ConnectionStrings__Postgres");
            var database = connection is null ? null : ServiceCatalog.DatabaseOf(connection);
            if (connection is not null && database != host.Database)
            {
                problems.Add($"docker-compose.yml: service '{host.Name}' uses database '{database}', appsettings.json names '{host.Database}'.");
            }

            var created = (EnvironmentValue(services["postgres"] as JsonObject ?? [], "AGENTS_DATABASES") ?? string.Empty)
                .Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            if (host.Database is not null && !created.Contains(host.Database))
            {
                problems.Add($"docker-compose.yml: the postgres service's AGENTS_DATABASES does not create '{host.Database}' (database of '{host.Name}').");
            }
        }

        return problems;
    }

    public static List<string> CheckPublishedPorts(JsonObject compose)
    {
        var problems = new List<string>();
        foreach (var (name, node) in Services(compose))
        {
            var ports = node.At("ports") is JsonArray array ? array.Select(p => p?.ToJsonString() ?? string.Empty).ToList() : [];
            if (ports.Count > 0 && !Published.Contains(name))
            {
                problems.Add($"docker-compose.yml: service '{name}' publishes ports ({string.Join(", ", ports)}); only {string.Join(", ", Published)} may.");
            }
        }

        return problems;
    }

    private static IEnumerable<string> CheckBuild(JsonObject service, HostProject host, string serviceName)
    {
        var dockerfile = service.Str("build", "dockerfile");
        if (dockerfile is null)
        {
            yield return $"docker-compose.yml: service '{serviceName}' has no build (image build of {host.ProjectPath}).";
            yield break;
        }

        if (!File.Exists(Repository.PathOf(dockerfile)))
        {
            yield return $"docker-compose.yml: service '{serviceName}' builds with {dockerfile}, which does not exist.";
        }

        var project = service.Str("build", "args", "PROJECT");
        if (dockerfile == "infra/Dockerfile" && project != host.ProjectPath)
        {
            yield return $"docker-compose.yml: service '{serviceName}' builds PROJECT='{project}', expected '{host.ProjectPath}'.";
        }

        if (service.Str("image") is null)
        {
            yield return $"docker-compose.yml: service '{serviceName}' names no image (the tag pushed to a registry).";
        }
    }

    private static IEnumerable<string> CheckMigration(JsonObject services, JsonObject service, HostProject host)
    {
        var migrateName = host.Name + "-migrate";
        if (services[migrateName] is not JsonObject migrate)
        {
            yield return $"docker-compose.yml: no one-shot service '{migrateName}' running `{host.Name} migrate` ({host.Name} owns database {host.Database}).";
            yield break;
        }

        if (!migrate.Strings("command").SequenceEqual(["migrate"]))
        {
            yield return $"docker-compose.yml: service '{migrateName}' must run command [migrate] (found [{string.Join(", ", migrate.Strings("command"))}]).";
        }

        if (migrate.Str("image") != service.Str("image"))
        {
            yield return $"docker-compose.yml: service '{migrateName}' runs image '{migrate.Str("image")}', '{host.Name}' runs '{service.Str("image")}'.";
        }

        foreach (var problem in CheckBuild(migrate, host, migrateName))
        {
            yield return problem;
        }

        if (migrate.Str("environment", "ConnectionStrings__Postgres") != service.Str("environment", "ConnectionStrings__Postgres"))
        {
            yield return $"docker-compose.yml: service '{migrateName}' migrates another database than '{host.Name}' uses (ConnectionStrings__Postgres differs).";
        }

        if (service.Str("depends_on", migrateName, "condition") != "service_completed_successfully")
        {
            yield return $"docker-compose.yml: service '{host.Name}' must depend on '{migrateName}' with condition service_completed_successfully.";
        }
    }

    public static string Reason(string key) =>
        key.StartsWith("ConnectionStrings__", StringComparison.Ordinal) ? "a connection string in appsettings.json"
        : ServiceCatalog.EveryHostKeys.Contains(key) ? "every host"
        : "appsettings.json points it at a loopback address, or deploy.required-keys lists it";
}
