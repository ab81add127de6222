using System.Net;
using System.Text.Json.Nodes;

namespace Agents.Cli.Tests;

[Trait("Category", "Unit")]
public sealed class ArgumentTests
{
    [Theory]
    [InlineData("submit")]
    [InlineData("submit", "--goal", "a", "--template", "b")]
    [InlineData("submit", "--goal", "a", "--param", "x=1")]
    [InlineData("submit", "--template", "t", "--param", "novalue")]
    [InlineData("tasks", "get", "not-a-guid")]
    [InlineData("tasks", "frobnicate")]
    [InlineData("dlq", "redeliver", "executor", "task-run")]
    [InlineData("dlq", "redeliver", "executor", "task-run", "m-1", "--all")]
    [InlineData("dlq", "list", "executor")]
    [InlineData("policy", "set", "policy.json")]
    [InlineData("policy", "set", "policy.json", "--version", "3", "--force")]
    [InlineData("tasks", "list", "--output", "yaml")]
    public async Task A_wrong_command_line_is_a_usage_error_with_exit_code_2_and_sends_nothing(params string[] args)
    {
        var gateway = new CannedGateway();

        var run = await CliRun.RunAsync(gateway, null, null, args);

        Assert.Equal(2, run.ExitCode);
        Assert.NotEmpty(run.Error);
        Assert.Empty(gateway.Requests);
    }

    [Fact]
    public async Task Without_a_url_the_cli_says_where_to_put_one_and_exits_2()
    {
        var run = await CliRun.RunAsync(new CannedGateway(), new Dictionary<string, string>(), null, "tasks", "list");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("AGENTS_URL", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_option_wins_over_the_environment_which_wins_over_the_profile()
    {
        var profiles = Path.Combine(Path.GetTempPath(), $"agents-profiles-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(profiles, """
            { "default": { "url": "http://from-profile.test", "apiKey": "profile-key" },
              "ops": { "url": "http://ops.test", "apiKey": "ops-key" } }
            """);
        try
        {
            var fromProfile = Connection.Resolve(null, null, null, Environment(profiles, new()));
            Assert.Equal(("http://from-profile.test/", "profile-key"), (fromProfile.Url.ToString(), fromProfile.ApiKey));

            var fromEnvironment = Connection.Resolve(null, null, null, Environment(profiles, new() { ["AGENTS_API_KEY"] = "env-key" }));
            Assert.Equal(("http://from-profile.test/", "env-key"), (fromEnvironment.Url.ToString(), fromEnvironment.ApiKey));

            var fromOption = Connection.Resolve("http://option.test", null, null, Environment(profiles, new() { ["AGENTS_URL"] = "http://env.test" }));
            Assert.Equal("http://option.test/", fromOption.Url.ToString());

            var named = Connection.Resolve(null, null, null, Environment(profiles, new() { ["AGENTS_PROFILE"] = "ops" }));
            Assert.Equal(("http://ops.test/", "ops-key"), (named.Url.ToString(), named.ApiKey));

            var missing = Assert.Throws<CliException>(() => Connection.Resolve(null, null, "nope", Environment(profiles, new())));
            Assert.Equal(ExitCodes.Usage, missing.ExitCode);
            Assert.Contains("nope", missing.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(profiles);
        }

        static CliEnvironment Environment(string profiles, Dictionary<string, string> variables) =>
            new(TextWriter.Null, TextWriter.Null, name => variables.GetValueOrDefault(name), profiles);
    }

    [Fact]
    public void Submit_builds_the_request_from_a_template_with_parameters_and_from_a_steps_file()
    {
        var template = TaskCommandsAccess.Build(null, "triage-customer-issue", ["customerId=C-1002", "question=a=b"], null);
        Assert.Equal("""{"template":"triage-customer-issue","parameters":{"customerId":"C-1002","question":"a=b"}}""", template.ToJsonString());

        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, """[{"id":"a","kind":"tool","tool":"crm.lookup-customer","argumentsJson":"{}"}]""");
            Assert.Equal("a", TaskCommandsAccess.Build(null, null, [], new FileInfo(file))["steps"]![0]!["id"]!.GetValue<string>());
            File.WriteAllText(file, "not json");
            Assert.Equal(ExitCodes.Usage, Assert.Throws<CliException>(() => TaskCommandsAccess.Build(null, null, [], new FileInfo(file))).ExitCode);
        }
        finally
        {
            File.Delete(file);
        }
    }
}

[Trait("Category", "Unit")]
public sealed class OutputTests
{
    private const string Tasks = """
        {"items":[{"id":"0193a1f0-0000-7000-8000-000000000001","status":"Completed","state":"Completed","goal":null,"template":"lookup-and-summarize",
        "reason":null,"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","createdAt":"2026-12-06T10:00:00+00:00","updatedAt":"2026-12-06T10:00:01+00:00","finishedAt":null}],
        "page":1,"pageSize":20,"total":1}
        """;

    [Fact]
    public async Task Tasks_list_prints_a_table_for_people_and_the_api_json_for_scripts()
    {
        var gateway = new CannedGateway().Answer("GET", "/api/tasks?status=Completed", HttpStatusCode.OK, Tasks);

        var text = await CliRun.RunAsync(gateway, null, null, "tasks", "list", "--status", "Completed");
        var json = await CliRun.RunAsync(gateway, null, null, "tasks", "list", "--status", "Completed", "--output", "json");

        Assert.Equal(0, text.ExitCode);
        Assert.Contains("0193a1f0-0000-7000-8000-000000000001", text.Out, StringComparison.Ordinal);
        Assert.Contains("lookup-and-summarize", text.Out, StringComparison.Ordinal);
        Assert.Contains("4bf92f3577b34da6a3ce929d0e0e4736", text.Out, StringComparison.Ordinal);
        Assert.Contains("1 task(s)", text.Out, StringComparison.Ordinal);
        Assert.Equal(0, json.ExitCode);
        Assert.Equal("Completed", JsonNode.Parse(json.Out)!["items"]![0]!["status"]!.GetValue<string>());
        Assert.All(gateway.Requests, r => Assert.Equal("test-key", r.Headers["X-Api-Key"]));
    }

    [Theory]
    [InlineData(HttpStatusCode.NotFound, 3)]
    [InlineData(HttpStatusCode.Forbidden, 3)]
    [InlineData(HttpStatusCode.PreconditionFailed, 3)]
    [InlineData(HttpStatusCode.BadGateway, 4)]
    [InlineData(HttpStatusCode.ServiceUnavailable, 4)]
    public async Task A_refusal_prints_the_problem_and_exits_3_and_a_failure_exits_4(HttpStatusCode status, int exitCode)
    {
        var gateway = new CannedGateway().Answer("GET", "/api/tools", status,
            """{"type":"https://agents.dev/problems/x","title":"The title","status":0,"detail":"What to do about it."}""", "application/problem+json");

        var run = await CliRun.RunAsync(gateway, null, null, "tools", "list");

        Assert.Equal(exitCode, run.ExitCode);
        Assert.Contains("The title: What to do about it.", run.Error, StringComparison.Ordinal);
        Assert.Empty(run.Out);
    }

    [Fact]
    public async Task Policy_set_sends_the_version_as_if_match_and_force_sends_a_star()
    {
        var file = Path.GetTempFileName();
        await File.WriteAllTextAsync(file, """{"enabled":true}""");
        try
        {
            var gateway = new CannedGateway().Answer("PUT", "/api/governance/policy", HttpStatusCode.OK, """{"tenantId":"demo","version":4}""");

            var versioned = await CliRun.RunAsync(gateway, null, null, "policy", "set", file, "--version", "3");
            var forced = await CliRun.RunAsync(gateway, null, null, "policy", "set", file, "--force");

            Assert.Equal(0, versioned.ExitCode);
            Assert.Contains("Policy version 4 written.", versioned.Out, StringComparison.Ordinal);
            Assert.Equal("\"3\"", gateway.Requests[0].Headers["If-Match"]);
            Assert.Equal("""{"enabled":true}""", gateway.Requests[0].Body);
            Assert.Equal(0, forced.ExitCode);
            Assert.Equal("*", gateway.Requests[1].Headers["If-Match"]);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Policy_validate_checks_a_file_against_the_served_schema_and_prints_each_problem_with_its_pointer()
    {
        var schema = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "policy.schema.json"));
        var gateway = new CannedGateway().Answer("GET", "/api/governance/policy/schema", HttpStatusCode.OK, schema, "application/schema+json");
        var bad = Path.GetTempFileName();
        var good = Path.GetTempFileName();
        await File.WriteAllTextAsync(bad, """
            {"enabled": true, "adminRole": "admin", "approverRoles": ["approver"],
             "approvalRules": [{}], "budgets": {"perTask": {"tokens": 0}}, "surprise": 1}
            """);
        await File.WriteAllTextAsync(good, """
            {"enabled": true, "adminRole": "admin", "approverRoles": ["approver"],
             "roles": {"agent-user": {"tools": ["crm.*"], "scopes": ["crm.*"]}}, "toolRiskTiers": {"crm.update": "High"}}
            """);
        try
        {
            var refused = await CliRun.RunAsync(gateway, null, null, "policy", "validate", bad);
            var accepted = await CliRun.RunAsync(gateway, null, null, "policy", "validate", good);
            var asJson = await CliRun.RunAsync(gateway, null, null, "policy", "validate", bad, "-o", "json");

            Assert.Equal(1, refused.ExitCode);
            var lines = refused.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            Assert.Contains("/approvalRules/0: A rule needs at least one of 'tool', 'sideEffect', 'minRisk' or 'argument'; an empty rule would match every call.", lines);
            Assert.Contains("/budgets/perTask/tokens: Must be a positive whole number (at most 2147483647), or null for no limit.", lines);
            Assert.Contains(lines, l => l.StartsWith("/surprise: Unknown property 'surprise'. Allowed here: enabled, adminRole,", StringComparison.Ordinal));
            Assert.Equal(3, lines.Length);
            Assert.Contains("3 problem(s)", refused.Error, StringComparison.Ordinal);
            Assert.Equal(0, accepted.ExitCode);
            Assert.Contains("matches the policy schema", accepted.Out, StringComparison.Ordinal);
            Assert.Equal(1, asJson.ExitCode);
            var json = JsonNode.Parse(asJson.Out)!;
            Assert.False(json["valid"]!.GetValue<bool>());
            Assert.Contains(json["errors"]!.AsArray(), e => e!["pointer"]!.GetValue<string>() == "/budgets/perTask/tokens");
            Assert.All(gateway.Requests, r => Assert.Equal((HttpMethod.Get, "/api/governance/policy/schema"), (r.Method, r.PathAndQuery)));
        }
        finally
        {
            File.Delete(bad);
            File.Delete(good);
        }
    }

    [Fact]
    public async Task Policy_schema_prints_the_served_schema()
    {
        var schema = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "policy.schema.json"));
        var gateway = new CannedGateway().Answer("GET", "/api/governance/policy/schema", HttpStatusCode.OK, schema, "application/schema+json");

        var run = await CliRun.RunAsync(gateway, null, null, "policy", "schema");

        Assert.Equal(0, run.ExitCode);
        Assert.Equal("https://json-schema.org/draft/2020-12/schema", JsonNode.Parse(run.Out)!["$schema"]!.GetValue<string>());
        Assert.Contains("a person's approval", run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Watch_prints_each_event_of_the_stream_then_the_outcome_and_exits_by_it()
    {
        const string id = "0193a1f0-0000-7000-8000-000000000002";
        var events = """
            id: 1
            event: submitted
            data: {"sequence":1,"at":"2026-12-06T10:00:00+00:00","kind":"submitted","stepId":null,"status":"Submitted","data":{}}

            id: 2
            event: failed
            data: {"sequence":2,"at":"2026-12-06T10:00:01+00:00","kind":"failed","stepId":"lookup","status":"Failed","data":{"reason":"the customer does not exist"}}


            """.Replace("\r\n", "\n", StringComparison.Ordinal);
        var gateway = new CannedGateway()
            .Answer("GET", $"/api/tasks/{id}/events", HttpStatusCode.OK, events, "text/event-stream")
            .Answer("GET", $"/api/tasks/{id}", HttpStatusCode.OK, $$"""{"id":"{{id}}","status":"Failed","reason":"the customer does not exist","steps":[]}""");

        var run = await CliRun.RunAsync(gateway, null, null, "tasks", "watch", id);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("#1    submitted → Submitted", run.Out, StringComparison.Ordinal);
        Assert.Contains("failed [lookup] → Failed", run.Out, StringComparison.Ordinal);
        Assert.Contains("the customer does not exist", run.Out, StringComparison.Ordinal);
        Assert.Equal("text/event-stream", gateway.Requests[0].Headers["Accept"]);
    }

    [Fact]
    public async Task A_wide_table_keeps_whole_values_when_written_to_a_pipe_or_file()
    {
        var exception = "System.Runtime.Serialization.SerializationException: " + new string('x', 150);
        var gateway = new CannedGateway().Answer("GET", "/api/dead-letters/executor/e2e-task-run", HttpStatusCode.OK, $$"""
            [{"messageId":"b8c08388-a7ce-4b78-88f5-59f52d873417","messageType":"urn:message:Agents.Contracts:CancelTask","tenantId":"demo",
              "reason":"fault","exceptionType":"System.Runtime.Serialization.SerializationException","exceptionMessage":"{{exception}}",
              "firstFaultedAt":"2026-12-06T10:00:00.0000000Z","faultedAt":"2026-12-06T10:00:00.0000000Z","redeliveries":0}]
            """);

        var run = await CliRun.RunAsync(gateway, null, null, "dlq", "list", "executor", "e2e-task-run");

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("b8c08388-a7ce-4b78-88f5-59f52d873417", run.Out, StringComparison.Ordinal);
        Assert.Contains("2026-12-06T10:00:00.0000000Z", run.Out, StringComparison.Ordinal);
        Assert.Contains("urn:message:Agents.Contracts:CancelTask", run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Audit_verify_exits_1_when_the_chain_is_broken()
    {
        var gateway = new CannedGateway().Answer("GET", "/api/governance/audit/verify", HttpStatusCode.OK,
            """{"ok":false,"entries":12,"firstTamperedSequence":7,"problem":"hash mismatch"}""");

        var run = await CliRun.RunAsync(gateway, null, null, "audit", "verify");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("BROKEN at entry 7: hash mismatch", run.Out, StringComparison.Ordinal);
    }
}

/// <summary>The request builder of <c>agents submit</c>.</summary>
internal static class TaskCommandsAccess
{
    public static JsonObject Build(string? goal, string? template, string[] parameters, FileInfo? steps) =>
        Commands.TaskCommands.BuildRequest(goal, template, parameters, steps);
}
