using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Agents.Cli.Evaluation;

namespace Agents.Cli.Commands;

/// <summary><c>agents eval run|compare</c>: evaluation suites (docs/evaluation.md).</summary>
internal static class EvalCommands
{
    public static Command Eval(CliEnvironment environment)
    {
        var command = new Command("eval", "Run evaluation suites against the platform and compare their results.");
        command.Add(Run(environment));
        command.Add(Compare(environment));
        return command;
    }

    private static Command Run(CliEnvironment environment)
    {
        var suitePath = new Argument<FileInfo>("suite") { Description = "The suite file (JSON), e.g. samples/eval/sample-tools.json." };
        var repeat = new Option<int>("--repeat", "-n") { Description = "Runs of every case (1-100).", DefaultValueFactory = _ => 1 };
        var outPath = new Option<FileInfo?>("--out") { Description = "Where to store the results (JSON); default eval-results/<suite>-<time>.json." };
        var variables = new Option<string[]>("--var") { Description = "A suite variable, name=value (repeat it), e.g. kb=http://127.0.0.1:5203/kb/." };
        var keep = new Option<bool>("--keep-waiting") { Description = "Leave tasks that wait for a person waiting (by default they are cancelled once measured)." };
        var judgeEndpoint = new Option<string?>("--judge-endpoint") { Description = $"An OpenAI-compatible endpoint (…/v1) whose model decides 'judge' assertions (else {EvalJudge.EndpointVariable}; key in {EvalJudge.ApiKeyVariable})." };
        var judgeModel = new Option<string?>("--judge-model") { Description = $"The judge's model id (else {EvalJudge.ModelVariable})." };
        var model = new Option<string?>("--model") { Description = "Run every case's model steps on this model, configured by name in the executor (Models:Named:<name>); the results record it." };
        var run = new Command("run", "Run every case of a suite through the gateway; print per case and overall figures; store them. Exit code 1 when a case failed.")
        {
            suitePath, repeat, outPath, variables, keep, judgeEndpoint, judgeModel, model,
        };
        repeat.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 1 or > 100)
            {
                result.AddError("--repeat must be between 1 and 100.");
            }
        });
        run.Validators.Add(result =>
        {
            foreach (var variable in result.GetValue(variables) ?? [])
            {
                if (variable.IndexOf('=', StringComparison.Ordinal) <= 0)
                {
                    result.AddError($"--var '{variable}' must be name=value.");
                }
            }
        });
        run.Handle(environment, async (parse, context, cancellationToken) =>
        {
            var file = parse.GetValue(suitePath)!;
            var suite = EvalSuite.Load(file.FullName);
            var values = new Dictionary<string, string>(suite.Variables ?? [], StringComparer.Ordinal);
            foreach (var variable in parse.GetValue(variables) ?? [])
            {
                var at = variable.IndexOf('=', StringComparison.Ordinal);
                values[variable[..at]] = variable[(at + 1)..];
            }

            if (suite.UnknownVariables([.. values.Keys, "run", "faults"]) is { Count: > 0 } unknown)
            {
                throw new CliException(ExitCodes.Usage,
                    $"The suite uses {string.Join(", ", unknown.Select(u => "${" + u + "}"))}, which it does not define: give them with --var name=value.");
            }

            var clients = new Dictionary<string, GatewayClient>(StringComparer.Ordinal);
            try
            {
                GatewayClient ClientFor(string? user)
                {
                    if (suite.KeyOf(user, environment.Variable) is not { } key || key == context.Connection.ApiKey)
                    {
                        return context.Gateway;
                    }

                    if (!clients.TryGetValue(key, out var client))
                    {
                        client = new GatewayClient(context.Connection with { ApiKey = key }, environment.Handler);
                        clients[key] = client;
                    }

                    return client;
                }

                using var judge = Judge(parse.GetValue(judgeEndpoint), parse.GetValue(judgeModel), environment);
                var runner = new EvalRunner(suite, values, ClientFor, context.Output.Error, TimeProvider.System) { KeepWaitingTasks = parse.GetValue(keep), Judge = judge, Model = parse.GetValue(model) };
                var result = await runner.RunAsync(file.FullName, context.Connection.Url, parse.GetValue(repeat), cancellationToken);
                var stored = parse.GetValue(outPath)?.FullName
                    ?? Path.Combine("eval-results", $"{suite.Name}-{result.StartedAt.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}.json");
                result.Save(stored);
                if (context.Output.IsJson)
                {
                    context.Output.Json(JsonSerializer.SerializeToNode(result, EvalRun.Json));
                }
                else
                {
                    PrintRun(context.Output, result);
                    context.Output.Line($"Results: {stored}");
                }

                return result.Summary.Passed == result.Summary.Runs ? ExitCodes.Success : ExitCodes.Unsuccessful;
            }
            finally
            {
                foreach (var client in clients.Values)
                {
                    client.Dispose();
                }
            }
        });
        return run;
    }

    /// <summary>The judge model from the options, else the environment; null when neither names an endpoint.</summary>
    private static EvalJudge? Judge(string? endpoint, string? model, CliEnvironment environment)
    {
        var url = endpoint ?? environment.Variable(EvalJudge.EndpointVariable);
        if (string.IsNullOrWhiteSpace(url))
        {
            return null;
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var address) || (address.Scheme != Uri.UriSchemeHttp && address.Scheme != Uri.UriSchemeHttps))
        {
            throw new CliException(ExitCodes.Usage, $"The judge endpoint '{url}' is not an absolute http or https URL.");
        }

        var id = model ?? environment.Variable(EvalJudge.ModelVariable);
        if (string.IsNullOrWhiteSpace(id))
        {
            throw new CliException(ExitCodes.Usage, $"A judge endpoint needs a model: give --judge-model or set {EvalJudge.ModelVariable}.");
        }

        return new EvalJudge(address, id, environment.Variable(EvalJudge.ApiKeyVariable), environment.Handler);
    }

    private static Command Compare(CliEnvironment environment)
    {
        var before = new Argument<FileInfo>("run-a") { Description = "The earlier (baseline) results file." };
        var after = new Argument<FileInfo>("run-b") { Description = "The later (candidate) results file." };
        var rate = new Option<double>("--threshold") { Description = "Largest drop of a rate (success, precision, recall, recovery; overall or per case) that is not a regression, e.g. 0.05 = 5 points.", DefaultValueFactory = _ => 0.05 };
        var cost = new Option<double>("--cost-threshold") { Description = "Largest relative rise of steps, tokens or cost per run that is not a regression, e.g. 0.10 = 10%.", DefaultValueFactory = _ => 0.10 };
        var latency = new Option<double>("--latency-threshold") { Description = "Largest relative rise of latency p50/p95 that is not a regression.", DefaultValueFactory = _ => 0.50 };
        var compare = new Command("compare", "Compare two stored runs: what improved and what regressed. Exit code 1 on a regression beyond the thresholds.")
        {
            before, after, rate, cost, latency,
        };
        foreach (var option in new[] { rate, cost, latency })
        {
            option.Validators.Add(result =>
            {
                if (result.GetValueOrDefault<double>() is < 0 or double.NaN)
                {
                    result.AddError($"{option.Name} must not be negative.");
                }
            });
        }
        compare.HandleLocally(environment, (parse, output, cancellationToken) =>
        {
            var a = EvalRun.Load(parse.GetValue(before)!.FullName);
            var b = EvalRun.Load(parse.GetValue(after)!.FullName);
            var changes = EvalComparison.Compare(a, b, new EvalThresholds(parse.GetValue(rate), parse.GetValue(cost), parse.GetValue(latency)));
            var regressions = changes.Count(c => c.IsRegression);
            if (output.IsJson)
            {
                output.Json(new JsonObject
                {
                    ["before"] = parse.GetValue(before)!.FullName,
                    ["after"] = parse.GetValue(after)!.FullName,
                    ["regressions"] = regressions,
                    ["changes"] = JsonSerializer.SerializeToNode(changes, EvalRun.Json),
                });
            }
            else
            {
                output.Line($"{a.Suite}: {a.StartedAt:u} ({a.Summary.Runs} runs) -> {b.Suite}: {b.StartedAt:u} ({b.Summary.Runs} runs)");
                output.Table(changes.Select(c => JsonSerializer.SerializeToNode(c, EvalRun.Json)),
                    ("FIGURE", c => Output.Text(c, "figure")),
                    ("A", c => Output.Text(c, "before")),
                    ("B", c => Output.Text(c, "after")),
                    ("CHANGE", c => Output.Text(c, "change")),
                    ("VERDICT", c => Output.Text(c, "verdict")));
                output.Line(regressions == 0 ? "No regression beyond the thresholds." : $"{regressions} regression(s) beyond the thresholds.");
            }

            return Task.FromResult(regressions == 0 ? ExitCodes.Success : ExitCodes.Unsuccessful);
        });
        return compare;
    }

    private static void PrintRun(Output output, EvalRun run)
    {
        output.Table(run.Cases.Select(c => JsonSerializer.SerializeToNode(c, EvalRun.Json)),
            ("CASE", c => Output.Text(c, "id")),
            ("PASSED", c => $"{Output.Text(c, "summary.passed")}/{Output.Text(c, "summary.runs")}"),
            ("STATUS", c => string.Join('/', (c["runs"] as JsonArray ?? []).Select(r => Output.Text(r, "status") ?? "-").Distinct())),
            ("PRECISION", c => Rate(c, "summary.precision")),
            ("RECALL", c => Rate(c, "summary.recall")),
            ("P50 MS", c => Number(c, "summary.latencyP50Ms", "0")),
            ("P95 MS", c => Number(c, "summary.latencyP95Ms", "0")),
            ("STEPS", c => Number(c, "summary.meanSteps", "0.##")),
            ("TOKENS", c => Number(c, "summary.meanTokens", "0.#")),
            ("COST", c => Number(c, "summary.meanCost", "0.######")),
            ("FAULTS", c => Output.Text(c, "faulted") == "true" ? "yes" : string.Empty));
        foreach (var @case in run.Cases)
        {
            foreach (var failed in @case.Runs.Where(r => !r.Passed))
            {
                output.Line($"{@case.Id}{(run.Repeat > 1 ? $" #{failed.Attempt}" : string.Empty)} failed (task {failed.TaskId}):{string.Concat(failed.Failures.Select(f => "\n  - " + f))}");
            }
        }

        var s = run.Summary;
        output.Line(string.Empty);
        output.Fields(
            ("Suite", $"{run.Suite} ({run.Cases.Count} cases x {run.Repeat} = {s.Runs} runs)"),
            ("Success rate", $"{s.Passed}/{s.Runs} ({EvalComparison.Percent(s.SuccessRate)})"),
            ("Tool-call precision", EvalComparison.Percent(s.Precision)),
            ("Tool-call recall", EvalComparison.Percent(s.Recall)),
            ("Latency p50 / p95", $"{s.LatencyP50Ms:0} ms / {s.LatencyP95Ms:0} ms"),
            ("Steps", $"{s.Steps} ({s.MeanSteps.ToString("0.##", CultureInfo.InvariantCulture)} per run)"),
            ("Tokens", $"{s.Tokens} ({s.MeanTokens.ToString("0.#", CultureInfo.InvariantCulture)} per run)"),
            ("Cost", $"{s.Cost.ToString("0.######", CultureInfo.InvariantCulture)} ({s.MeanCost.ToString("0.######", CultureInfo.InvariantCulture)} per run)"),
            ("Recovery under faults", s.FaultRuns == 0 ? "no faults injected" : $"{s.Recovered}/{s.FaultRuns} ({EvalComparison.Percent(s.RecoveryRate)})"));
    }

    private static string Rate(JsonNode? node, string path) =>
        double.TryParse(Output.Text(node, path), CultureInfo.InvariantCulture, out var value) ? EvalComparison.Percent(value) : "n/a";

    private static string? Number(JsonNode? node, string path, string format) =>
        double.TryParse(Output.Text(node, path), CultureInfo.InvariantCulture, out var value) ? value.ToString(format, CultureInfo.InvariantCulture) : Output.Text(node, path);
}
