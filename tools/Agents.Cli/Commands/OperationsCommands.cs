using System.CommandLine;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Agents.Governance.Policies;
using Json.Schema;

namespace Agents.Cli.Commands;

/// <summary><c>agents dlq|tools|policy|audit</c>: what an operator or a tenant admin looks after.</summary>
internal static class OperationsCommands
{
    public static Command DeadLetters(CliEnvironment environment)
    {
        var command = new Command("dlq", "Dead letters: messages that failed all their retries, per service and queue (admin roles only).");

        var service = new Argument<string?>("service") { Description = "The service (executor, planner, toolgateway, memory, governance).", Arity = ArgumentArity.ZeroOrOne };
        var queue = new Argument<string?>("queue") { Description = "The service's queue.", Arity = ArgumentArity.ZeroOrOne };
        var limit = new Option<int?>("--limit") { Description = "Most messages to list (1-1000)." };
        var list = new Command("list", "Without arguments: every queue with its dead letters; with a service and queue: its messages.") { service, queue, limit };
        list.Validators.Add(result =>
        {
            if (result.GetValue(service) is not null && result.GetValue(queue) is null)
            {
                result.AddError("Give the queue with the service (or neither).");
            }
        });
        list.Handle(environment, async (parse, context, cancellationToken) =>
        {
            if (parse.GetValue(service) is not { } name)
            {
                var overview = (await context.Gateway.GetAsync("/api/dead-letters", cancellationToken)).Body;
                return context.Output.Show(overview, () =>
                {
                    context.Output.Table(overview?["queues"] as JsonArray ?? [],
                        ("SERVICE", q => Output.Text(q, "service")),
                        ("QUEUE", q => Output.Text(q, "queue")),
                        ("DEAD LETTERS", q => Output.Text(q, "messages")));
                    if (overview?["unavailable"] is JsonArray { Count: > 0 } unavailable)
                    {
                        context.Output.Line($"Not answering: {string.Join(", ", unavailable)}");
                    }
                });
            }

            var path = $"/api/dead-letters/{Segment(name)}/{Segment(parse.GetValue(queue)!)}"
                + TaskCommands.Query(("limit", parse.GetValue(limit)?.ToString(CultureInfo.InvariantCulture)));
            var messages = (await context.Gateway.GetAsync(path, cancellationToken)).Body;
            return context.Output.Show(messages, () =>
            {
                context.Output.Table(messages as JsonArray ?? [],
                    ("MESSAGE", m => Output.Text(m, "messageId")),
                    ("TYPE", m => TaskCommands.Shorten(Output.Text(m, "messageType"), 60)),
                    ("TENANT", m => Output.Text(m, "tenantId")),
                    ("FIRST FAILED", m => Output.Text(m, "firstFaultedAt")),
                    ("REDELIVERED", m => Output.Text(m, "redeliveries")),
                    ("EXCEPTION", m => TaskCommands.Shorten($"{Output.Text(m, "exceptionType")}: {Output.Text(m, "exceptionMessage")}", 100)));
            });
        });
        command.Add(list);

        var showService = new Argument<string>("service") { Description = "The service." };
        var showQueue = new Argument<string>("queue") { Description = "The queue." };
        var showId = new Argument<string>("message-id") { Description = "The message id." };
        var show = new Command("show", "Show one dead letter: the fault and the message body.") { showService, showQueue, showId };
        show.Handle(environment, async (parse, context, cancellationToken) =>
        {
            var message = (await context.Gateway.GetAsync(
                $"/api/dead-letters/{Segment(parse.GetValue(showService)!)}/{Segment(parse.GetValue(showQueue)!)}/{Segment(parse.GetValue(showId)!)}", cancellationToken)).Body;
            return context.Output.Show(message, () =>
            {
                var summary = message?["summary"];
                context.Output.Fields(
                    ("Message", Output.Text(summary, "messageId")),
                    ("Type", Output.Text(summary, "messageType")),
                    ("Tenant", Output.Text(summary, "tenantId")),
                    ("Reason", Output.Text(summary, "reason")),
                    ("Exception", $"{Output.Text(summary, "exceptionType")}: {Output.Text(summary, "exceptionMessage")}"),
                    ("First failed", Output.Text(summary, "firstFaultedAt")),
                    ("Last failed", Output.Text(summary, "faultedAt")),
                    ("Redelivered", Output.Text(summary, "redeliveries")));
                context.Output.Line("Body:");
                context.Output.Line(Pretty(Output.Text(message, "body")));
            });
        });
        command.Add(show);

        var redeliverService = new Argument<string>("service") { Description = "The service." };
        var redeliverQueue = new Argument<string>("queue") { Description = "The queue." };
        var redeliverId = new Argument<string?>("message-id") { Description = "The message to redeliver (or --all).", Arity = ArgumentArity.ZeroOrOne };
        var all = new Option<bool>("--all") { Description = "Redeliver every dead letter of the queue that you may see." };
        var redeliver = new Command("redeliver", "Move dead letters back to their queue, to be consumed again.") { redeliverService, redeliverQueue, redeliverId, all };
        redeliver.Validators.Add(result =>
        {
            if ((result.GetValue(redeliverId) is null) == !result.GetValue(all))
            {
                result.AddError("Give a message id or --all (not both).");
            }
        });
        redeliver.Handle(environment, async (parse, context, cancellationToken) =>
        {
            var path = $"/api/dead-letters/{Segment(parse.GetValue(redeliverService)!)}/{Segment(parse.GetValue(redeliverQueue)!)}"
                + (parse.GetValue(redeliverId) is { } id ? $"/{Segment(id)}" : string.Empty) + "/redeliver";
            var answer = (await context.Gateway.PostAsync(path, null, cancellationToken)).Body;
            return context.Output.Show(answer, () => context.Output.Line($"Redelivered {Output.Text(answer, "redelivered")} message(s)."));
        });
        command.Add(redeliver);
        return command;
    }

    public static Command Tools(CliEnvironment environment)
    {
        var command = new Command("tools", "The tool registry.");
        var list = new Command("list", "List the registered tools with side effect, risk, circuit state and when each was last seen.");
        list.Handle(environment, async (_, context, cancellationToken) =>
        {
            var tools = (await context.Gateway.GetAsync("/api/tools", cancellationToken)).Body;
            return context.Output.Show(tools, () =>
            {
                context.Output.Table(tools as JsonArray ?? [],
                    ("TOOL", t => Output.Text(t, "name")),
                    ("SIDE EFFECT", t => Output.Text(t, "sideEffect")),
                    ("RISK", t => Output.Text(t, "risk")),
                    ("SCOPE", t => Output.Text(t, "requiredScope")),
                    ("CIRCUIT", t => Output.Text(t, "circuit.state")),
                    ("LAST SEEN", t => Output.Text(t, "lastSeenAt")));
            });
        });
        command.Add(list);
        return command;
    }

    public static Command Policy(CliEnvironment environment)
    {
        var command = new Command("policy", "Your tenant's governance policy.");
        var get = new Command("get", "Print the current policy document (to edit and 'policy set'); its version goes to stderr.");
        get.Handle(environment, async (_, context, cancellationToken) =>
        {
            var policy = (await context.Gateway.GetAsync("/api/governance/policy", cancellationToken)).Body;
            return context.Output.Show(policy, () =>
            {
                // The version goes to stderr, so that 'agents policy get > policy.json' gives a document to edit and set.
                context.Output.Error.WriteLine($"Tenant {Output.Text(policy, "tenantId")}, policy version {Output.Text(policy, "version")}{(Output.Text(policy, "isDefault") == "true" ? " (the default policy)" : string.Empty)}: set it with --version {Output.Text(policy, "version")}.");
                context.Output.Line(policy?["document"]?.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) ?? "{}");
            });
        });
        command.Add(get);

        var file = new Argument<FileInfo>("file") { Description = "The policy document (JSON)." };
        var version = new Option<int?>("--version") { Description = "The version you edited (sent as If-Match): refused with 412 if someone changed the policy since." };
        var force = new Option<bool>("--force") { Description = "Write whatever the current version is (If-Match: *)." };
        var set = new Command("set", "Write a new version of the policy (admin role).") { file, version, force };
        set.Validators.Add(result =>
        {
            if ((result.GetValue(version) is null) == !result.GetValue(force))
            {
                result.AddError("Give --version N (the version you edited) or --force (not both).");
            }
        });
        set.Handle(environment, async (parse, context, cancellationToken) =>
        {
            var json = await ReadPolicyFileAsync(parse.GetValue(file)!, cancellationToken);
            var ifMatch = parse.GetValue(version) is { } v ? $"\"{v.ToString(CultureInfo.InvariantCulture)}\"" : "*";
            var answer = await context.Gateway.SendAsync(HttpMethod.Put, "/api/governance/policy", json, new Dictionary<string, string> { ["If-Match"] = ifMatch }, cancellationToken);
            return context.Output.Show(answer.Body, () => context.Output.Line($"Policy version {Output.Text(answer.Body, "version")} written."));
        });
        command.Add(set);

        var schema = new Command("schema", "Print the policy's JSON Schema: every property with its type, bounds, allowed values and meaning.");
        schema.Handle(environment, async (_, context, cancellationToken) =>
        {
            // Unescaped, so that the descriptions read as written ('it's', not 'it\u0027s').
            var schemaNode = (await context.Gateway.GetAsync(PolicySchemaPath, cancellationToken)).Body;
            context.Output.Line(schemaNode?.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) ?? "{}");
            return ExitCodes.Success;
        });
        command.Add(schema);

        var draft = new Argument<FileInfo>("file") { Description = "The policy document (JSON)." };
        var validate = new Command("validate", "Check a policy file against the platform's policy schema without writing it: each problem with its JSON pointer (exit code 1 when there is one).") { draft };
        validate.Handle(environment, async (parse, context, cancellationToken) =>
        {
            var json = await ReadPolicyFileAsync(parse.GetValue(draft)!, cancellationToken);
            var schemaText = (await context.Gateway.GetAsync(PolicySchemaPath, cancellationToken)).Body?.ToJsonString() ?? "{}";
            var errors = PolicyFileErrors(schemaText, json);
            if (context.Output.IsJson)
            {
                context.Output.Json(new JsonObject
                {
                    ["valid"] = errors.Count == 0,
                    ["errors"] = new JsonArray([.. errors.Select(e => new JsonObject { ["pointer"] = e.Pointer, ["message"] = e.Message })]),
                });
            }
            else if (errors.Count == 0)
            {
                context.Output.Line($"{parse.GetValue(draft)!.Name} matches the policy schema.");
            }
            else
            {
                foreach (var (pointer, message) in errors)
                {
                    context.Output.Line($"{(pointer.Length == 0 ? "(document)" : pointer)}: {message}");
                }

                context.Output.Error.WriteLine($"{errors.Count} problem(s) in {parse.GetValue(draft)!.Name}.");
            }

            return errors.Count == 0 ? ExitCodes.Success : ExitCodes.Unsuccessful;
        });
        command.Add(validate);
        return command;
    }

    private const string PolicySchemaPath = "/api/governance/policy/schema";

    private static async Task<string> ReadPolicyFileAsync(FileInfo file, CancellationToken cancellationToken)
    {
        try
        {
            return await File.ReadAllTextAsync(file.FullName, cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliException(ExitCodes.Usage, $"The policy file could not be read: {ex.Message}");
        }
    }

    /// <summary>The problems of <paramref name="json"/> against the policy schema, explained as the governance service explains them.</summary>
    private static List<(string Pointer, string Message)> PolicyFileErrors(string schemaText, string json)
    {
        using var schemaDocument = JsonDocument.Parse(schemaText);
        var schema = JsonSchema.Build(schemaDocument.RootElement, new BuildOptions { SchemaRegistry = new SchemaRegistry() });
        JsonDocument policy;
        try
        {
            policy = JsonDocument.Parse(json);
        }
        catch (JsonException ex)
        {
            return [(string.Empty, $"The policy is not valid JSON: {ex.Message}")];
        }

        using (policy)
        {
            var results = schema.Evaluate(policy.RootElement, SchemaErrors.Options);
            return results.IsValid ? [] : SchemaErrors.Explain(results, schemaDocument.RootElement, policy.RootElement);
        }
    }

    public static Command Audit(CliEnvironment environment)
    {
        var command = new Command("audit", "Your tenant's hash-chained audit log.");
        var verify = new Command("verify", "Check the audit chain end to end (exit code 1 when it is broken).");
        verify.Handle(environment, async (_, context, cancellationToken) =>
        {
            var result = (await context.Gateway.GetAsync("/api/governance/audit/verify", cancellationToken)).Body;
            var ok = Output.Text(result, "ok") == "true";
            if (context.Output.IsJson)
            {
                context.Output.Json(result);
            }
            else
            {
                context.Output.Line(ok
                    ? $"Audit chain intact: {Output.Text(result, "entries")} entries verified."
                    : $"Audit chain BROKEN at entry {Output.Text(result, "firstTamperedSequence")}: {Output.Text(result, "problem")}");
            }

            return ok ? ExitCodes.Success : ExitCodes.Unsuccessful;
        });
        command.Add(verify);
        return command;
    }

    private static string Segment(string value) => Uri.EscapeDataString(value);

    private static string Pretty(string? json)
    {
        try
        {
            return json is null ? string.Empty : JsonNode.Parse(json)?.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) ?? json;
        }
        catch (JsonException)
        {
            return json!;
        }
    }
}
