using System.Text.Json.Nodes;
using Agents.Deployment.Tests.Infrastructure;

namespace Agents.Deployment.Tests;

/// <summary>docker-compose.yml as `docker-compose config` renders it (nothing is started).</summary>
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
}
