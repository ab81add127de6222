using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Agents.Deployment.Tests.Infrastructure;

/// <summary>Rules for a rendered kustomization; each problem names the overlay, the object and what is missing.</summary>
internal static partial class KubernetesChecks
{
    public static JsonObject? PodSpec(JsonObject workload) => workload.At("spec", "template", "spec") as JsonObject;

    public static JsonObject? AppContainer(JsonObject workload) => PodSpec(workload)?["containers"].Objects().FirstOrDefault();

    public static IReadOnlyDictionary<string, string> PodLabels(JsonObject workload) =>
        workload.At("spec", "template", "metadata", "labels") is JsonObject labels
            ? labels.ToDictionary(p => p.Key, p => p.Value?.ToString() ?? string.Empty)
            : new Dictionary<string, string>();

    /// <summary>Environment variable names a container gets: env entries, and envFrom ConfigMaps/Secrets present in the rendering.</summary>
    public static HashSet<string> EnvironmentOf(KubernetesObjects objects, JsonObject container)
    {
        var names = new HashSet<string>(container["env"].Objects().Select(e => e.Str("name")!).Where(n => n is not null), StringComparer.Ordinal);
        foreach (var source in container["envFrom"].Objects())
        {
            var (kind, name) = source["configMapRef"] is not null ? ("ConfigMap", source.Str("configMapRef", "name")) : ("Secret", source.Str("secretRef", "name"));
            if (name is not null && objects.Find(kind, name)?["data"] is JsonObject data)
            {
                names.UnionWith(data.Select(p => p.Key));
            }
        }

        return names;
    }

    public static List<string> CheckHost(string overlay, KubernetesObjects objects, HostProject host)
    {
        var problems = new List<string>();
        var deployment = objects.Find("Deployment", host.Name);
        if (deployment is null)
        {
            problems.Add($"{overlay}: no Deployment '{host.Name}' for {host.ProjectPath}.");
            return problems;
        }

        problems.AddRange(CheckWorkload(overlay, deployment, dotnetService: true));
        var container = AppContainer(deployment)!;
        var environment = EnvironmentOf(objects, container);
        foreach (var key in host.RequiredKeys.Where(k => !environment.Contains(k)))
        {
            problems.Add($"{overlay}: Deployment '{host.Name}' does not set {key} (required: {ComposeChecks.Reason(key)}).");
        }

        var labels = PodLabels(deployment);
        if (!objects.OfKind("Service").Any(s => Selects(s.At("spec", "selector") as JsonObject, labels)))
        {
            problems.Add($"{overlay}: no Service selects the pods of Deployment '{host.Name}'.");
        }

        if (!objects.OfKind("PodDisruptionBudget").Any(p => Selects(p.At("spec", "selector", "matchLabels") as JsonObject, labels)))
        {
            problems.Add($"{overlay}: no PodDisruptionBudget covers Deployment '{host.Name}'.");
        }

        if (!objects.OfKind("NetworkPolicy").Any(p => p.At("spec", "podSelector", "matchLabels") is JsonObject { Count: > 0 } selector && Selects(selector, labels)))
        {
            problems.Add($"{overlay}: no NetworkPolicy selects Deployment '{host.Name}' (the namespace-wide default-deny does not count).");
        }

        if ((host.IsTool || host.Name == "executor")
            && !objects.OfKind("HorizontalPodAutoscaler").Any(h => h.Str("spec", "scaleTargetRef", "kind") == "Deployment" && h.Str("spec", "scaleTargetRef", "name") == host.Name))
        {
            problems.Add($"{overlay}: no HorizontalPodAutoscaler scales Deployment '{host.Name}' (the executor and every tool need one).");
        }

        if (host.OwnsDatabase)
        {
            var job = objects.Find("Job", host.Name + "-migrate");
            if (job is null)
            {
                problems.Add($"{overlay}: no migration Job '{host.Name}-migrate' (`{host.Name} migrate`; it owns database {host.Database}).");
            }
            else
            {
                var jobContainer = AppContainer(job);
                if (jobContainer?.Str("image") != container.Str("image"))
                {
                    problems.Add($"{overlay}: Job '{host.Name}-migrate' runs image '{jobContainer?.Str("image")}', Deployment '{host.Name}' runs '{container.Str("image")}'.");
                }

                if (!(jobContainer?["args"].Strings() ?? []).SequenceEqual(["migrate"]))
                {
                    problems.Add($"{overlay}: Job '{host.Name}-migrate' must run with args [migrate].");
                }

                var jobEnvironment = jobContainer is null ? [] : EnvironmentOf(objects, jobContainer);
                if (!jobEnvironment.Contains("ConnectionStrings__Postgres"))
                {
                    problems.Add($"{overlay}: Job '{host.Name}-migrate' does not set ConnectionStrings__Postgres.");
                }

                problems.AddRange(CheckPodSecurity(overlay, $"Job '{host.Name}-migrate'", job, requireReadOnlyRoot: true));
            }
        }

        return problems;
    }

    /// <summary>Probes, requests and limits, non-root; for the suite's own services also graceful shutdown and a read-only root.</summary>
    public static List<string> CheckWorkload(string overlay, JsonObject deployment, bool dotnetService)
    {
        var problems = new List<string>();
        var name = $"Deployment '{deployment.Str("metadata", "name")}'";
        foreach (var container in PodSpec(deployment)?["containers"].Objects() ?? [])
        {
            var what = $"{overlay}: {name} container '{container.Str("name")}'";
            if (container["readinessProbe"] is null)
            {
                problems.Add($"{what} has no readinessProbe.");
            }

            if (container["livenessProbe"] is null)
            {
                problems.Add($"{what} has no livenessProbe.");
            }

            if (dotnetService)
            {
                if (container.Str("readinessProbe", "httpGet", "path") != "/health/ready")
                {
                    problems.Add($"{what}: readinessProbe must GET /health/ready.");
                }

                if (container.Str("livenessProbe", "httpGet", "path") != "/health/live")
                {
                    problems.Add($"{what}: livenessProbe must GET /health/live.");
                }
            }

            foreach (var section in new[] { "requests", "limits" })
            {
                foreach (var resource in new[] { "cpu", "memory" })
                {
                    if (container.Str("resources", section, resource) is null)
                    {
                        problems.Add($"{what} has no resources.{section}.{resource}.");
                    }
                }
            }
        }

        problems.AddRange(CheckPodSecurity(overlay, name, deployment, requireReadOnlyRoot: dotnetService));
        if (dotnetService)
        {
            var spec = PodSpec(deployment)!;
            var grace = int.TryParse(spec.Str("terminationGracePeriodSeconds"), out var g) ? g : 30;
            var container = AppContainer(deployment)!;
            if (container.At("lifecycle", "preStop") is null)
            {
                problems.Add($"{overlay}: {name} has no preStop hook (endpoints must drop the pod before SIGTERM).");
            }

            var shutdown = container["env"].Objects().Any(e => e.Str("name") == "HostOptions__ShutdownTimeout");
            if (!shutdown)
            {
                problems.Add($"{overlay}: {name} does not set HostOptions__ShutdownTimeout (in-flight work must finish before the kubelet kills the pod).");
            }

            if (grace < 45)
            {
                problems.Add($"{overlay}: {name} terminationGracePeriodSeconds is {grace}; it must exceed preStop + HostOptions:ShutdownTimeout (45 s).");
            }
        }

        return problems;
    }

    public static List<string> CheckPodSecurity(string overlay, string name, JsonObject workload, bool requireReadOnlyRoot)
    {
        var problems = new List<string>();
        var spec = PodSpec(workload);
        if (spec is null)
        {
            problems.Add($"{overlay}: {name} has no pod template.");
            return problems;
        }

        foreach (var container in spec["containers"].Objects())
        {
            var what = $"{overlay}: {name} container '{container.Str("name")}'";
            var nonRoot = container.Str("securityContext", "runAsNonRoot") ?? spec.Str("securityContext", "runAsNonRoot");
            var user = container.Str("securityContext", "runAsUser") ?? spec.Str("securityContext", "runAsUser");
            if (nonRoot != "true" || user == "0")
            {
                problems.Add($"{what} may run as root (set securityContext.runAsNonRoot: true and a non-zero runAsUser).");
            }

            if (container.Str("securityContext", "allowPrivilegeEscalation") != "false")
            {
                problems.Add($"{what} does not set securityContext.allowPrivilegeEscalation: false.");
            }

            if (requireReadOnlyRoot && container.Str("securityContext", "readOnlyRootFilesystem") != "true")
            {
                problems.Add($"{what} does not set securityContext.readOnlyRootFilesystem: true.");
            }
        }

        return problems;
    }

    /// <summary>Only the gateway accepts traffic from anywhere; a namespace-wide default-deny exists.</summary>
    public static List<string> CheckNetworkExposure(string overlay, KubernetesObjects objects)
    {
        var problems = new List<string>();
        var policies = objects.OfKind("NetworkPolicy").ToList();
        if (!policies.Any(p => p.At("spec", "podSelector") is JsonObject { Count: 0 } or null
                               && p.At("spec", "policyTypes").Strings().Order().SequenceEqual(["Egress", "Ingress"])
                               && p.At("spec", "ingress") is null && p.At("spec", "egress") is null))
        {
            problems.Add($"{overlay}: no default-deny NetworkPolicy (podSelector {{}}, policyTypes Ingress and Egress, no rules).");
        }

        foreach (var policy in policies)
        {
            var selector = policy.At("spec", "podSelector", "matchLabels") as JsonObject;
            var selectsGatewayOnly = selector?.Str("app.kubernetes.io/name") == "gateway";
            foreach (var rule in policy.At("spec", "ingress").Objects())
            {
                var peers = rule["from"].Objects().ToList();
                var open = peers.Count == 0 || peers.Any(p => p["ipBlock"] is not null || (p["namespaceSelector"] is not null && p["podSelector"] is null));
                if (open && !selectsGatewayOnly)
                {
                    problems.Add($"{overlay}: NetworkPolicy '{policy.Str("metadata", "name")}' admits traffic from outside the namespace; only the gateway may be reachable from outside.");
                }
            }
        }

        return problems;
    }

    /// <summary>Secrets are referenced by pods, never written in base or prod; sensitive values never appear as literals.</summary>
    public static List<string> CheckSecrets(string overlay, KubernetesObjects objects, bool secretsMayBeGenerated)
    {
        var problems = new List<string>();
        if (!secretsMayBeGenerated)
        {
            problems.AddRange(objects.OfKind("Secret").Select(s => $"{overlay}: defines Secret '{s.Str("metadata", "name")}'; Secrets must be created outside the repository and only referenced."));
        }

        foreach (var workload in objects.All.Where(o => PodSpec(o) is not null))
        {
            foreach (var container in PodSpec(workload)!["containers"].Objects())
            {
                foreach (var env in container["env"].Objects().Where(e => Sensitive().IsMatch(e.Str("name") ?? string.Empty) && e["value"] is not null))
                {
                    problems.Add($"{overlay}: {workload.Str("kind")} '{workload.Str("metadata", "name")}' sets {env.Str("name")} as a literal value; reference a Secret (valueFrom.secretKeyRef).");
                }
            }
        }

        foreach (var map in objects.OfKind("ConfigMap"))
        {
            foreach (var (key, value) in map["data"] as JsonObject ?? [])
            {
                if (Sensitive().IsMatch(key) || (value?.ToString() ?? string.Empty).Contains("Password=", StringComparison.OrdinalIgnoreCase))
                {
                    problems.Add($"{overlay}: ConfigMap '{map.Str("metadata", "name")}' holds '{key}', which belongs in a Secret.");
                }
            }
        }

        return problems;
    }

    public static bool Selects(JsonObject? selector, IReadOnlyDictionary<string, string> labels) =>
        selector is { Count: > 0 } && selector.All(p => labels.TryGetValue(p.Key, out var v) && v == p.Value?.ToString());

    [GeneratedRegex(@"^ConnectionStrings__|SigningKey|Password|ApiKey|Secret|AccessToken", RegexOptions.IgnoreCase)]
    private static partial Regex Sensitive();
}
