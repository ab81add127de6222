using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;

namespace Agents.Cli.Commands;

/// <summary>
/// <c>agents templates list|put|rollout|rollback|rollout-end|versions</c>: a tenant's workflow templates, the gradual rollout
/// of a new version (a share of new tasks plans with the candidate) and each version's figures on live traffic.
/// </summary>
internal static class TemplateCommands
{
    public static Command Templates(CliEnvironment environment)
    {
        var command = new Command("templates", "Workflow templates: list them, roll a new version out to a share of new tasks, watch each version's figures, roll back.");
        command.Add(List(environment));
        command.Add(Put(environment));
        command.Add(Rollout(environment));
        command.Add(Rollback(environment));
        command.Add(EndRollout(environment));
        command.Add(Versions(environment));
        return command;
    }

    private static Command List(CliEnvironment environment)
    {
        var list = new Command("list", "List the templates your tenant can run (its own and the built-in ones), newest version of each.");
        list.Handle(environment, async (_, context, cancellationToken) =>
        {
            var templates = (await context.Gateway.GetAsync("/api/templates", cancellationToken)).Body;
            return context.Output.Show(templates, () => context.Output.Table(templates as JsonArray ?? [],
                ("TEMPLATE", t => Output.Text(t, "name")),
                ("VERSION", t => Output.Text(t, "version")),
                ("BUILT-IN", t => Output.Text(t, "builtIn") == "true" ? "yes" : "no"),
                ("DESCRIPTION", t => TaskCommands.Shorten(Output.Text(t, "description"), 80))));
        });
        return list;
    }

    private static Command Put(CliEnvironment environment)
    {
        var name = Name();
        var file = new Argument<FileInfo>("file") { Description = "The template as JSON: {description, parameters: [...], steps: [...]}." };
        var put = new Command("put", "Store a JSON file as the next version of one of your tenant's templates (admin).") { name, file };
        put.Handle(environment, async (parse, context, cancellationToken) =>
        {
            string json;
            try
            {
                json = await File.ReadAllTextAsync(parse.GetValue(file)!.FullName, cancellationToken);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new CliException(ExitCodes.Usage, $"The template file could not be read: {ex.Message}");
            }

            var saved = (await context.Gateway.SendAsync(HttpMethod.Put, $"/api/templates/{Segment(parse.GetValue(name)!)}", json, null, cancellationToken)).Body;
            return context.Output.Show(saved, () => context.Output.Line($"Stored template '{Output.Text(saved, "name")}' version {Output.Text(saved, "version")}."));
        });
        return put;
    }

    private static Command Rollout(CliEnvironment environment)
    {
        var name = Name();
        var percent = new Option<int>("--percent") { Description = "The share of new tasks (0-100) that plan with the candidate version.", Required = true };
        var candidate = new Option<int?>("--candidate") { Description = "The version to roll out (default: the template's newest version)." };
        var stable = new Option<int?>("--stable") { Description = "The version the other tasks keep (default: the one serving now)." };
        var rollout = new Command("rollout", "Roll a template version out to a share of new tasks (admin); the rest keep the stable version.") { name, percent, candidate, stable };
        rollout.Handle(environment, async (parse, context, cancellationToken) =>
        {
            var template = parse.GetValue(name)!;
            var version = parse.GetValue(candidate)
                ?? int.Parse(Output.Text((await context.Gateway.GetAsync($"/api/templates/{Segment(template)}", cancellationToken)).Body, "version") ?? "0", CultureInfo.InvariantCulture);
            var body = new JsonObject { ["candidateVersion"] = version, ["percent"] = parse.GetValue(percent) };
            if (parse.GetValue(stable) is { } kept)
            {
                body["stableVersion"] = kept;
            }

            return PrintRollout(context, await PutRolloutAsync(context, template, body, cancellationToken));
        });
        return rollout;
    }

    private static Command Rollback(CliEnvironment environment)
    {
        var name = Name();
        var rollback = new Command("rollback", "Send every new task back to the stable version of the template's rollout (admin; the rollout stays, at 0 %).") { name };
        rollback.Handle(environment, async (parse, context, cancellationToken) =>
        {
            var template = parse.GetValue(name)!;
            var current = (await context.Gateway.GetAsync($"/api/templates/{Segment(template)}/rollout", cancellationToken)).Body;
            var body = new JsonObject
            {
                ["candidateVersion"] = current?["candidateVersion"]?.GetValue<int>(),
                ["stableVersion"] = current?["stableVersion"]?.GetValue<int>(),
                ["percent"] = 0,
            };
            return PrintRollout(context, await PutRolloutAsync(context, template, body, cancellationToken));
        });
        return rollback;
    }

    private static Command EndRollout(CliEnvironment environment)
    {
        var name = Name();
        var end = new Command("rollout-end", "End the template's rollout (admin): its newest version serves every new task again.") { name };
        end.Handle(environment, async (parse, context, cancellationToken) =>
        {
            var template = parse.GetValue(name)!;
            await context.Gateway.SendAsync(HttpMethod.Delete, $"/api/templates/{Segment(template)}/rollout", null, null, cancellationToken);
            return context.Output.Show(new JsonObject { ["template"] = template, ["rollout"] = null },
                () => context.Output.Line($"The rollout of '{template}' ended: its newest version serves every new task."));
        });
        return end;
    }

    private static Command Versions(CliEnvironment environment)
    {
        var name = Name();
        var since = new Option<DateTimeOffset?>("--since") { Description = "Count tasks submitted since then (ISO 8601; default: the last 7 days)." };
        var maxDrop = new Option<double>("--max-drop") { Description = "Exit 1 when the candidate's success rate is lower than the stable version's by more than this (0-1).", DefaultValueFactory = _ => 0.05 };
        var maxCostRise = new Option<double>("--max-cost-rise") { Description = "Exit 1 when the candidate's cost per task is higher than the stable version's by more than this share.", DefaultValueFactory = _ => 0.10 };
        var versions = new Command("versions", "Each version of a template on live traffic: tasks, success rate, latency, tokens, cost, approvals; the candidate against the stable version (exit 1 on a regression).")
        {
            name, since, maxDrop, maxCostRise,
        };
        versions.Handle(environment, async (parse, context, cancellationToken) =>
        {
            var template = parse.GetValue(name)!;
            var from = parse.GetValue(since)?.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture);
            var report = (await context.Gateway.GetAsync("/api/tasks/versions" + TaskCommands.Query(("template", template), ("since", from)), cancellationToken)).Body;
            var rows = (report?["versions"] as JsonArray ?? []).Where(r => r is not null).Select(r => r!).ToList();
            JsonNode? rollout = null;
            try
            {
                rollout = (await context.Gateway.GetAsync($"/api/templates/{Segment(template)}/rollout", cancellationToken)).Body;
            }
            catch (CliException ex) when (ex.ExitCode == ExitCodes.Refused)
            {
                // No rollout (404): the two newest versions are compared.
            }

            var verdict = Compare(rows, (int?)Number(rollout, "candidateVersion"), (int?)Number(rollout, "stableVersion"), parse.GetValue(maxDrop), parse.GetValue(maxCostRise));
            context.Output.Show(report, () =>
            {
                context.Output.Table(rows,
                    ("VERSION", r => Output.Text(r, "version") ?? "(not planned)"),
                    ("ROLLOUT", r => Output.Text(r, "rollout") ?? "-"),
                    ("TASKS", r => Output.Text(r, "tasks")),
                    ("FINISHED", r => Output.Text(r, "finished")),
                    ("SUCCESS", r => Percent(Number(r, "successRate"))),
                    ("P50 MS", r => Output.Text(r, "latencyP50Ms") ?? "-"),
                    ("P95 MS", r => Output.Text(r, "latencyP95Ms") ?? "-"),
                    ("TOKENS/TASK", r => Output.Text(r, "tokensPerTask")),
                    ("COST/TASK", r => Output.Text(r, "costPerTask")),
                    ("APPROVALS", r => Percent(Number(r, "approvalRate"))));
                foreach (var line in verdict.Lines)
                {
                    context.Output.Line(line);
                }
            });
            return verdict.Regressed ? ExitCodes.Unsuccessful : ExitCodes.Success;
        });
        return versions;
    }

    /// <summary>
    /// The candidate against its baseline: the versions of the current rollout (<paramref name="candidateVersion"/>,
    /// <paramref name="stableVersion"/>) when there is one, else the two newest versions; of a version, its row on the
    /// matching side of the rollout comes first. A regression is a success rate lower by more than
    /// <paramref name="maxDrop"/> or a cost per task higher by more than <paramref name="maxCostRise"/> of the baseline's.
    /// </summary>
    internal static (bool Regressed, List<string> Lines) Compare(IReadOnlyList<JsonNode> rows, int? candidateVersion, int? stableVersion, double maxDrop, double maxCostRise)
    {
        var planned = rows.Where(r => Number(r, "version") is not null).ToList();
        var newest = planned.Select(r => (int)Number(r, "version")!.Value).Distinct().OrderDescending().ToList();
        var (wanted, kept) = candidateVersion is { } rolledOut && stableVersion is { } stayed
            ? (rolledOut, stayed)
            : (newest.ElementAtOrDefault(0), newest.ElementAtOrDefault(1));
        JsonNode? Row(int version, string side) =>
            planned.Where(r => Number(r, "version") == version).OrderBy(r => Output.Text(r, "rollout") == side ? 0 : 1).FirstOrDefault();
        var candidate = newest.Count == 0 ? null : Row(wanted, "candidate");
        var baseline = newest.Count < 2 && candidateVersion is null ? null : Row(kept, "stable");
        if (candidate is null || baseline is null || Number(candidate, "version") == Number(baseline, "version"))
        {
            return (false, ["The two versions to compare have not both run in this window; nothing to compare."]);
        }

        var lines = new List<string>();
        var regressed = false;
        var (newRate, oldRate) = (Number(candidate, "successRate"), Number(baseline, "successRate"));
        if (newRate is { } a && oldRate is { } b)
        {
            var worse = b - a > maxDrop;
            regressed |= worse;
            lines.Add($"{(worse ? "REGRESSED" : "ok")}: success rate {Percent(a)} (version {Output.Text(candidate, "version")}) against {Percent(b)} (version {Output.Text(baseline, "version")}); allowed drop {Percent(maxDrop)}.");
        }

        var (newCost, oldCost) = (Number(candidate, "costPerTask") ?? 0, Number(baseline, "costPerTask") ?? 0);
        var dearer = newCost > oldCost && newCost > oldCost * (1 + maxCostRise);
        regressed |= dearer;
        lines.Add($"{(dearer ? "REGRESSED" : "ok")}: cost per task {newCost.ToString("0.########", CultureInfo.InvariantCulture)} against {oldCost.ToString("0.########", CultureInfo.InvariantCulture)}; allowed rise {Percent(maxCostRise)}.");
        return (regressed, lines);
    }

    private static async Task<JsonNode?> PutRolloutAsync(CommandContext context, string template, JsonObject body, CancellationToken cancellationToken) =>
        (await context.Gateway.SendAsync(HttpMethod.Put, $"/api/templates/{Segment(template)}/rollout", body.ToJsonString(), null, cancellationToken)).Body;

    private static int PrintRollout(CommandContext context, JsonNode? rollout) =>
        context.Output.Show(rollout, () => context.Output.Line(
            $"Template '{Output.Text(rollout, "name")}': {Output.Text(rollout, "percent")} % of new tasks plan with version {Output.Text(rollout, "candidateVersion")}, the others with version {Output.Text(rollout, "stableVersion")}."));

    private static Argument<string> Name() => new("name") { Description = "The template's name." };

    private static string Segment(string value) => Uri.EscapeDataString(value);

    private static double? Number(JsonNode? node, string field) =>
        node?[field] is JsonValue value && value.TryGetValue<double>(out var number) ? number : null;

    private static string Percent(double? share) => share is { } value ? (value * 100).ToString("0.#", CultureInfo.InvariantCulture) + " %" : "-";
}
