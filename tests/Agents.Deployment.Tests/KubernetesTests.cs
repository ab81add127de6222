using Agents.Deployment.Tests.Infrastructure;

namespace Agents.Deployment.Tests;

/// <summary>Every kustomization as `kubectl kustomize` renders it (nothing is applied).</summary>
[Trait("Category", "Unit")]
public sealed class KubernetesTests
{
    public static TheoryData<string, string> HostsByOverlay
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (var overlay in Rendered.Overlays)
            {
                foreach (var host in ServiceCatalog.Hosts)
                {
                    data.Add(overlay, host.Name);
                }
            }

            return data;
        }
    }

    public static TheoryData<string> Overlays => [.. Rendered.Overlays];

    [Theory]
    [MemberData(nameof(HostsByOverlay))]
    public void Every_host_has_a_hardened_deployment_with_probes_limits_settings_service_pdb_policy_and_migration(string overlay, string name)
    {
        var host = ServiceCatalog.Hosts.Single(h => h.Name == name);

        Problems.AssertNone(KubernetesChecks.CheckHost(overlay, Rendered.Kustomize(overlay), host));
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Every_deployment_has_probes_requests_limits_and_runs_as_non_root(string overlay)
    {
        var objects = Rendered.Kustomize(overlay);
        var hosts = ServiceCatalog.Hosts.Select(h => h.Name).ToHashSet();

        Assert.NotEmpty(objects.OfKind("Deployment"));
        Problems.AssertNone(objects.OfKind("Deployment")
            .Where(d => !hosts.Contains(d.Str("metadata", "name")!))
            .SelectMany(d => KubernetesChecks.CheckWorkload(overlay, d, dotnetService: false)));
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Only_the_gateway_is_reachable_from_outside(string overlay)
    {
        Problems.AssertNone(KubernetesChecks.CheckNetworkExposure(overlay, Rendered.Kustomize(overlay)));
    }

    [Theory]
    [InlineData("k8s/base", false)]
    [InlineData("k8s/overlays/prod", false)]
    [InlineData("k8s/overlays/dev", true)]
    public void Secrets_are_referenced_never_inlined(string overlay, bool generatedDevelopmentSecrets)
    {
        var objects = Rendered.Kustomize(overlay);

        Problems.AssertNone(KubernetesChecks.CheckSecrets(overlay, objects, generatedDevelopmentSecrets));
        Assert.Equal(generatedDevelopmentSecrets, objects.OfKind("Secret").Any());
    }

    [Fact]
    public void The_dev_overlay_runs_postgres_rabbitmq_and_qdrant_in_the_cluster_and_prod_does_not()
    {
        var dev = Rendered.Kustomize("k8s/overlays/dev");
        var prod = Rendered.Kustomize("k8s/overlays/prod");

        Assert.All(new[] { "postgres", "rabbitmq", "qdrant" }, n => Assert.NotNull(dev.Find("StatefulSet", n)));
        Assert.Empty(prod.OfKind("StatefulSet"));
    }

    [Fact]
    public void The_dev_databases_match_every_service_database()
    {
        var dev = Rendered.Kustomize("k8s/overlays/dev");
        var postgres = dev.Find("StatefulSet", "postgres")!;
        var created = KubernetesChecks.AppContainer(postgres)!["env"].Objects()
            .Single(e => e.Str("name") == "AGENTS_DATABASES").Str("value")!.Split(',');
        var secret = dev.OfKind("Secret").Single(s => s.Str("metadata", "name")!.StartsWith("agents-postgres-", StringComparison.Ordinal));
        var problems = new List<string>();
        foreach (var host in ServiceCatalog.Hosts.Where(h => h.OwnsDatabase))
        {
            if (!created.Contains(host.Database))
            {
                problems.Add($"k8s/overlays/dev: PostgreSQL's AGENTS_DATABASES does not create '{host.Database}' ({host.Name}).");
            }

            var encoded = secret.Str("data", host.Name);
            var connection = encoded is null ? null : System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(encoded));
            if (ServiceCatalog.DatabaseOf(connection ?? string.Empty) != host.Database)
            {
                problems.Add($"k8s/overlays/dev: secrets/postgres.dev.env key '{host.Name}' must connect to database '{host.Database}' (found '{connection}').");
            }
        }

        Problems.AssertNone(problems);
    }

    [Fact]
    public void Prod_images_come_from_a_registry_with_a_pinned_tag()
    {
        var prod = Rendered.Kustomize("k8s/overlays/prod");
        var images = prod.All
            .Select(o => (Object: o, Spec: KubernetesChecks.PodSpec(o)))
            .Where(x => x.Spec is not null)
            .SelectMany(x => x.Spec!["containers"].Objects().Select(c => (x.Object, Image: c.Str("image") ?? string.Empty)));

        Problems.AssertNone(images
            .Where(x => x.Image.StartsWith("agents/", StringComparison.Ordinal) || !x.Image.Contains(':', StringComparison.Ordinal) || x.Image.EndsWith(":latest", StringComparison.Ordinal))
            .Select(x => $"k8s/overlays/prod: {x.Object.Str("kind")} '{x.Object.Str("metadata", "name")}' runs image '{x.Image}'; add it to the prod overlay's images (registry and tag)."));
    }
}
