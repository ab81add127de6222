using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Agents.Deployment.Tests.Infrastructure;

namespace Agents.Deployment.Tests;

/// <summary>
/// The dashboards and alert rules of infra/observability: valid files, queries only on metrics the services export
/// (cross-checked against the instruments in the code), rules accepted by promtool, and provisioned by docker-compose
/// and the dev overlay.
/// </summary>
[Trait("Category", "Unit")]
public sealed partial class ObservabilityTests
{
    private const string Folder = "infra/observability";
    private const string Rules = Folder + "/prometheus/alerts.yml";
    private static readonly string[] Dashboards = ["platform-health", "agent-quality-cost", "tool-reliability"];

    public static TheoryData<string> DashboardNames => [.. Dashboards];

    [Theory]
    [MemberData(nameof(DashboardNames))]
    public void Dashboard_is_grafana_json_whose_panels_query_the_provisioned_prometheus(string name)
    {
        var dashboard = ReadDashboard(name);

        Assert.False(string.IsNullOrWhiteSpace(dashboard.Str("uid")), $"{name}: no uid");
        Assert.False(string.IsNullOrWhiteSpace(dashboard.Str("title")), $"{name}: no title");
        var panels = dashboard["panels"].Objects().ToList();
        Assert.True(panels.Count >= 5, $"{name}: {panels.Count} panels");
        Assert.Equal(panels.Count, panels.Select(p => p.Str("id")).Distinct().Count());
        var datasource = Yaml.ParseDocument(File.ReadAllText(Repository.PathOf(Folder + "/grafana/provisioning/datasources/prometheus.yml")))["datasources"]
            .Objects().Single().Str("uid");
        Assert.All(panels, p =>
        {
            Assert.Equal(datasource, p.Str("datasource", "uid"));
            var targets = p["targets"].Objects().ToList();
            Assert.NotEmpty(targets);
            Assert.All(targets, t => Assert.False(string.IsNullOrWhiteSpace(t.Str("expr")), $"{name}: panel '{p.Str("title")}' has a target without a query"));
        });
    }

    [Fact]
    public void Instrument_names_read_from_the_code_include_the_platform_series()
    {
        // Guards the scan itself: a broken scan would let every name in the files below look unknown or, worse, known.
        var names = InstrumentCatalog.Platform.Select(m => m.PrometheusName).ToHashSet();

        Assert.Contains("agents_task_finished_total", names);
        Assert.Contains("agents_task_duration_seconds", names);
        Assert.Contains("agents_tool_gateway_calls_total", names);
        Assert.Contains("agents_tool_circuit_state", names);
        Assert.Contains("agents_messaging_queue_messages", names);
        Assert.Contains("agents_messaging_outbox_age_seconds", names);
        Assert.Contains("agents_governance_decisions_total", names);
        Assert.Contains("agents_model_tokens_total", names);
        Assert.False(InstrumentCatalog.Exports("agents_task_finished"), "a counter is exported with _total only");
        Assert.True(InstrumentCatalog.Exports("agents_task_duration_seconds_bucket"));
    }

    [Fact]
    public void Dashboards_and_alert_rules_query_only_metrics_the_services_export()
    {
        var rules = Yaml.ParseDocument(File.ReadAllText(Repository.PathOf(Rules)));
        var recorded = rules["groups"].Objects().SelectMany(g => g["rules"].Objects()).Select(r => r.Str("record")).OfType<string>().ToHashSet();
        var queries = rules["groups"].Objects().SelectMany(g => g["rules"].Objects()).Select(r => ($"{Rules} rule {r.Str("alert") ?? r.Str("record")}", r.Str("expr")!)).ToList();
        foreach (var name in Dashboards)
        {
            var dashboard = ReadDashboard(name);
            queries.AddRange(dashboard["panels"].Objects().SelectMany(p => p["targets"].Objects().Select(t => ($"{name}.json panel '{p.Str("title")}'", t.Str("expr")!))));
            queries.AddRange(dashboard.At("templating", "list").Objects().Select(v => ($"{name}.json variable {v.Str("name")}", v.Str("definition") ?? string.Empty)));
        }

        var problems = new List<string>();
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (where, expr) in queries)
        {
            foreach (var metric in MetricNames(expr))
            {
                used.Add(metric);
                if (!InstrumentCatalog.Exports(metric) && !recorded.Contains(metric))
                {
                    problems.Add($"{where}: '{metric}' is exported by no service (no instrument in services/ or shared/ gives it).");
                }
            }
        }

        Problems.AssertNone(problems);
        Assert.True(used.Count >= 20, $"only {used.Count} metric names found in the queries: the extraction is broken");
    }

    [Fact]
    public void Alert_rules_pass_promtool_and_cover_the_platform_s_failure_modes()
    {
        var output = Rendered.Run("promtool", ["check", "rules", Rules], "promtool check rules");

        Assert.Contains("SUCCESS", output, StringComparison.Ordinal);
        var alerts = Yaml.ParseDocument(File.ReadAllText(Repository.PathOf(Rules)))["groups"].Objects()
            .SelectMany(g => g["rules"].Objects()).Select(r => r.Str("alert")).OfType<string>().ToHashSet();
        Assert.Superset(
            new HashSet<string>
            {
                "AgentsTaskErrorBudgetFastBurn", "AgentsErrorQueueGrowing", "AgentsOutboxBacklogOld", "AgentsApprovalsWaitingTooLong",
                "AgentsCostPerTaskDrift", "AgentsToolCircuitOpen", "AgentsKillSwitchOn", "AgentsWatchdogAlert", "AgentsWatchdogTrippedKillSwitch",
            },
            alerts);
    }

    [Fact]
    public void Compose_and_the_dev_overlay_provision_prometheus_and_grafana_with_the_repository_s_files()
    {
        var services = ComposeChecks.Services(Rendered.Compose);
        Assert.Contains(Mounts(services["prometheus"]), m => m.StartsWith(Repository.PathOf(Rules) + ":", StringComparison.Ordinal));
        Assert.Contains(Mounts(services["grafana"]), m => m.StartsWith(Repository.PathOf(Folder + "/grafana/dashboards") + ":", StringComparison.Ordinal));
        Assert.Equal("http://rabbitmq:15672", services.Str("governance", "environment", "Messaging__QueueMetrics__ManagementUrl"));

        var dev = Rendered.Kustomize("k8s/overlays/dev");
        Assert.NotNull(dev.Find("Deployment", "prometheus"));
        Assert.NotNull(dev.Find("Deployment", "grafana"));
        var dashboards = dev.OfKind("ConfigMap").Single(c => c.Str("metadata", "name")!.StartsWith("grafana-dashboards", StringComparison.Ordinal));
        Assert.Equal(Dashboards.Select(d => d + ".json").Order(), dashboards["data"]!.AsObject().Select(p => p.Key).Order());
        var rules = dev.OfKind("ConfigMap").Single(c => c.Str("metadata", "name")!.StartsWith("prometheus-rules", StringComparison.Ordinal));
        Assert.Equal(File.ReadAllText(Repository.PathOf(Rules)), rules.Str("data", "alerts.yml"));

        // Every service's pods say where to scrape them, in every overlay.
        foreach (var overlay in Rendered.Overlays)
        {
            foreach (var host in ServiceCatalog.Hosts)
            {
                var deployment = Rendered.Kustomize(overlay).Find("Deployment", host.Name);
                Assert.True(deployment is not null, $"{overlay}: no Deployment {host.Name}");
                Assert.Equal("true", deployment.Str("spec", "template", "metadata", "annotations", "prometheus.io/scrape"));
                Assert.Equal("/metrics", deployment.Str("spec", "template", "metadata", "annotations", "prometheus.io/path"));
            }
        }
    }

    /// <summary>The metric names a PromQL expression reads (label matchers, grouping labels, strings and ranges removed).</summary>
    internal static IEnumerable<string> MetricNames(string expr)
    {
        var bare = StringLiteral().Replace(expr, string.Empty);
        bare = LabelMatchers().Replace(bare, string.Empty);
        bare = GroupingClause().Replace(bare, string.Empty);
        bare = RangeSelector().Replace(bare, string.Empty);
        var labelValues = LabelValuesCall().Match(bare);
        if (labelValues.Success)
        {
            return [labelValues.Groups[1].Value];
        }

        return Identifier().Matches(bare).Select(m => m.Value)
            .Where(n => n.Contains(':', StringComparison.Ordinal) || n.StartsWith("agents_", StringComparison.Ordinal)
                || n.StartsWith("http_", StringComparison.Ordinal) || n.StartsWith("gen_ai_", StringComparison.Ordinal))
            .Distinct();
    }

    /// <summary>A compose service's volumes as <c>source:target</c> (short or long syntax, as `config` prints them).</summary>
    private static IEnumerable<string> Mounts(JsonNode? service) =>
        service.Strings("volumes").Concat(service?["volumes"].Objects().Select(v => $"{v.Str("source")}:{v.Str("target")}") ?? []);

    private static JsonObject ReadDashboard(string name) =>
        JsonNode.Parse(File.ReadAllText(Repository.PathOf($"{Folder}/grafana/dashboards/{name}.json")), documentOptions: new JsonDocumentOptions { AllowTrailingCommas = false })!.AsObject();

    [GeneratedRegex(@"""(?:[^""\\]|\\.)*""")]
    private static partial Regex StringLiteral();

    [GeneratedRegex(@"\{[^}]*\}")]
    private static partial Regex LabelMatchers();

    [GeneratedRegex(@"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")]
    private static partial Regex GroupingClause();

    [GeneratedRegex(@"\[[^\]]*\]")]
    private static partial Regex RangeSelector();

    [GeneratedRegex(@"^\s*label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,")]
    private static partial Regex LabelValuesCall();

    [GeneratedRegex(@"[a-zA-Z_:][a-zA-Z0-9_:]*")]
    private static partial Regex Identifier();
}
