using System.Text.Json.Nodes;
using Agents.Deployment.Tests.Infrastructure;

namespace Agents.Deployment.Tests;

/// <summary>The consistency rules fail, naming the service and what is missing, when the files break them.</summary>
[Trait("Category", "Unit")]
public sealed class ChecksDetectProblemsTests
{
    private static HostProject Executor => ServiceCatalog.Hosts.Single(h => h.Name == "executor");

    [Fact]
    public void A_compose_service_without_a_required_setting_is_named()
    {
        var compose = (JsonObject)Rendered.Compose.DeepClone();
        ((JsonObject)compose["services"]!["executor"]!["environment"]!).Remove("ConnectionStrings__RabbitMq");

        var problem = Assert.Single(ComposeChecks.CheckHost(compose, Executor));

        Assert.Equal("docker-compose.yml: service 'executor' does not set ConnectionStrings__RabbitMq (required: a connection string in appsettings.json).", problem);
    }

    [Fact]
    public void A_missing_compose_service_migration_and_published_port_are_named()
    {
        var compose = (JsonObject)Rendered.Compose.DeepClone();
        var services = (JsonObject)compose["services"]!;
        services.Remove("executor-migrate");
        services["planner"]!["ports"] = new JsonArray("5102:8080/tcp");

        Assert.Contains(ComposeChecks.CheckHost(compose, Executor), p => p.Contains("no one-shot service 'executor-migrate'", StringComparison.Ordinal));
        Assert.Contains(ComposeChecks.CheckPublishedPorts(compose), p => p.StartsWith("docker-compose.yml: service 'planner' publishes ports", StringComparison.Ordinal));

        services.Remove("executor");
        Assert.Equal(["docker-compose.yml: no service 'executor' for services/Executor/Agents.Executor.csproj."], ComposeChecks.CheckHost(compose, Executor));
    }

    [Fact]
    public void A_deployment_without_probes_limits_hpa_or_job_is_named()
    {
        var objects = Rendered.Kustomize("k8s/base").All.Select(o => (JsonObject)o.DeepClone()).ToList();
        var deployment = objects.Single(o => o.Str("kind") == "Deployment" && o.Str("metadata", "name") == "executor");
        var container = (JsonObject)KubernetesChecks.AppContainer(deployment)!;
        container.Remove("readinessProbe");
        ((JsonObject)container["resources"]!).Remove("limits");
        objects.RemoveAll(o => o.Str("kind") is "HorizontalPodAutoscaler" or "Job" && o.Str("metadata", "name")!.StartsWith("executor", StringComparison.Ordinal));

        var problems = KubernetesChecks.CheckHost("k8s/base", new KubernetesObjects(objects), Executor);

        Assert.Contains("k8s/base: Deployment 'executor' container 'app' has no readinessProbe.", problems);
        Assert.Contains("k8s/base: Deployment 'executor' container 'app' has no resources.limits.memory.", problems);
        Assert.Contains(problems, p => p.StartsWith("k8s/base: no HorizontalPodAutoscaler scales Deployment 'executor'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("k8s/base: no migration Job 'executor-migrate'", StringComparison.Ordinal));
    }

    [Fact]
    public void An_inlined_secret_and_an_open_service_are_named()
    {
        var objects = Rendered.Kustomize("k8s/base").All.Select(o => (JsonObject)o.DeepClone()).ToList();
        var deployment = objects.Single(o => o.Str("kind") == "Deployment" && o.Str("metadata", "name") == "planner");
        var env = (JsonArray)KubernetesChecks.AppContainer(deployment)!["env"]!;
        env.Add(new JsonObject { ["name"] = "Identity__SigningKey", ["value"] = "inline-secret-inline-secret-inline-secret" });
        var policy = objects.Single(o => o.Str("kind") == "NetworkPolicy" && o.Str("metadata", "name") == "planner");
        ((JsonArray)policy["spec"]!["ingress"]!).Add(new JsonObject { ["ports"] = new JsonArray(new JsonObject { ["port"] = "8080" }) });
        var rendered = new KubernetesObjects(objects);

        Assert.Contains("k8s/base: Deployment 'planner' sets Identity__SigningKey as a literal value; reference a Secret (valueFrom.secretKeyRef).", KubernetesChecks.CheckSecrets("k8s/base", rendered, secretsMayBeGenerated: false));
        Assert.Contains("k8s/base: NetworkPolicy 'planner' admits traffic from outside the namespace; only the gateway may be reachable from outside.", KubernetesChecks.CheckNetworkExposure("k8s/base", rendered));
    }
}

[Trait("Category", "Unit")]
public sealed class MissingToolTests
{
    [Fact]
    public void A_missing_tool_fails_with_how_to_install_it()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Rendered.Run("docker-compose-not-installed", ["config"], "docker-compose config"));

        Assert.Contains("bash infra/validate-deploy.sh", error.Message, StringComparison.Ordinal);
    }
}
