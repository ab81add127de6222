using System.Text.Json.Nodes;
using Agents.Deployment.Tests.Infrastructure;

namespace Agents.Deployment.Tests;

/// <summary>docker-compose.yml as `docker-compose config` renders it (nothing is started).</summary>
[Trait("Category", "Unit")]
public sealed class ComposeTests
{
    public static TheoryData<string> Hosts => [.. ServiceCatalog.Hosts.Select(h => h.Name)];

    [Theory]
    [MemberData(nameof(Hosts))]
    public void Every_host_has_an_image_build_a_service_a_healthcheck_its_required_settings_and_a_migration(string name)
    {
        var host = ServiceCatalog.Hosts.Single(h => h.Name == name);

        Problems.AssertNone(ComposeChecks.CheckHost(Rendered.Compose, host));
    }

    [Fact]
    public void Only_the_gateway_and_the_rabbitmq_and_jaeger_uis_publish_ports()
    {
        var services = ComposeChecks.Services(Rendered.Compose);

        Problems.AssertNone(ComposeChecks.CheckPublishedPorts(Rendered.Compose));
        Assert.NotNull(services["gateway"]?["ports"]);
        Assert.All(ComposeChecks.Published, n => Assert.True(services[n]?["ports"] is JsonArray { Count: > 0 }, $"{n} should publish its UI or API"));
    }

    [Fact]
    public void Backing_services_and_the_ollama_profile_are_defined()
    {
        var services = ComposeChecks.Services(Rendered.Compose);

        Assert.All(new[] { "postgres", "rabbitmq", "qdrant", "otel-collector", "jaeger", "ollama" }, n => Assert.True(services[n] is JsonObject, $"docker-compose.yml has no service '{n}'."));
        Assert.Equal(["ollama"], services["ollama"]!["profiles"].Strings());
        Assert.Contains("management", services.Str("rabbitmq", "image"), StringComparison.Ordinal);
        Assert.Equal("Qdrant", services.Str("memory", "environment", "Memory__VectorStore__Provider"));
    }

    /// <summary>
    /// Compose is the development counterpart of the dev overlay: every setting compose gives a service
    /// must be given there too, directly or through a ConfigMap or Secret the overlay defines (the
    /// gateway's development API keys, for one, come from a generated Secret).
    /// </summary>
    [Fact]
    public void Every_setting_given_in_compose_is_also_given_in_kubernetes()
    {
        var services = ComposeChecks.Services(Rendered.Compose);
        var problems = new List<string>();
        foreach (var host in ServiceCatalog.Hosts)
        {
            if (services[host.Name] is not JsonObject service)
            {
                continue; // reported by the per-host test
            }

            var objects = Rendered.Kustomize("k8s/overlays/dev");
            var container = objects.Find("Deployment", host.Name) is { } deployment ? KubernetesChecks.AppContainer(deployment) : null;
            if (container is null)
            {
                continue; // reported by the Kubernetes tests
            }

            var kubernetes = KubernetesChecks.EnvironmentOf(objects, container);
            problems.AddRange(ComposeChecks.EnvironmentOf(service)
                .Where(k => !kubernetes.Contains(k))
                .Select(k => $"{host.Name}: docker-compose.yml sets {k}, k8s/overlays/dev does not."));
        }

        Problems.AssertNone(problems);
    }

    /// <summary>`docker compose up` with no options: the repository's .env gives the development values.</summary>
    [Fact]
    public void With_no_options_compose_takes_the_development_values_of_the_repositorys_env_file()
    {
        var services = ComposeChecks.Services(Rendered.Compose);
        var development = EnvFile(".env");

        Assert.Equal(development["POSTGRES_PASSWORD"], services.Str("postgres", "environment", "POSTGRES_PASSWORD"));
        Assert.StartsWith("dev-only-", development["AGENTS_SIGNING_KEY"], StringComparison.Ordinal);
        Assert.Equal(development["AGENTS_SIGNING_KEY"], services.Str("gateway", "environment", "Identity__SigningKey"));
        Assert.Equal("demo", services.Str("gateway", "environment", "Gateway__ApiKeys__0__Tenant"));
    }

    /// <summary>
    /// A file of one's own (`--env-file`) replaces .env rather than adding to it: what it leaves out is refused
    /// by name, never filled in with a development value.
    /// </summary>
    [Fact]
    public void An_env_file_of_ones_own_replaces_the_development_values_and_must_name_every_secret()
    {
        var own = Path.Combine(Directory.CreateTempSubdirectory("agents-compose-env-").FullName, "prod.env");
        try
        {
            var complete = EnvFile(".env")
                .Select(p => p.Key.EndsWith("_ENV_FILE", StringComparison.Ordinal) || p.Key.EndsWith("_PORT", StringComparison.Ordinal)
                    ? $"{p.Key}={p.Value}"
                    : $"{p.Key}=own-{p.Key.ToLowerInvariant()}-0123456789abcdef0123456789")
                .ToList();
            File.WriteAllLines(own, complete);
            var rendered = ComposeChecks.Services(Yaml.ParseDocument(Rendered.Run("docker-compose", ["--env-file", own, "config"], "docker-compose --env-file config")));
            Assert.Equal("own-postgres_password-0123456789abcdef0123456789", rendered.Str("postgres", "environment", "POSTGRES_PASSWORD"));

            File.WriteAllLines(own, complete.Where(l => !l.StartsWith("POSTGRES_PASSWORD=", StringComparison.Ordinal)));
            var refused = Assert.Throws<InvalidOperationException>(() => Rendered.Run("docker-compose", ["--env-file", own, "config"], "docker-compose --env-file config"));
            Assert.Contains("POSTGRES_PASSWORD", refused.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(own)!, recursive: true);
        }
    }

    private static Dictionary<string, string> EnvFile(string path) => File.ReadAllLines(Repository.PathOf(path))
        .Where(l => l.Length > 0 && !l.StartsWith('#'))
        .Select(l => l.Split('=', 2))
        .ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
}
