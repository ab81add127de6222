using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace Agents.Cli.Evaluation;

/// <summary>
/// An evaluation suite: cases of tasks to run through the gateway and what each must show (docs/evaluation.md).
/// Every string of a case may hold <c>${name}</c>: a suite variable (<c>--var name=value</c> overrides it),
/// <c>${run}</c> (an id unique to one run of the case) or <c>${faults}</c> (the query string that asks the sample
/// knowledge base for the case's faults).
/// </summary>
internal sealed partial record EvalSuite(
    string Name,
    IReadOnlyList<EvalCase> Cases,
    string? Description = null,
    Dictionary<string, string>? Variables = null,
    Dictionary<string, string>? Users = null,
    string? DefaultUser = null)
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    /// <summary>Reads and checks a suite file; a bad one is a usage error naming what is wrong.</summary>
    public static EvalSuite Load(string path)
    {
        EvalSuite? suite;
        try
        {
            suite = JsonSerializer.Deserialize<EvalSuite>(File.ReadAllText(path), Options);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException)
        {
            throw new CliException(ExitCodes.Usage, $"The suite {path} could not be read: {ex.Message}");
        }

        var problems = suite is null ? ["the file holds no suite"] : suite.Problems();
        return problems.Count == 0
            ? suite!
            : throw new CliException(ExitCodes.Usage, $"The suite {path} is not valid:\n  {string.Join("\n  ", problems)}");
    }

    /// <summary>What is wrong with the suite (empty when nothing).</summary>
    public List<string> Problems()
    {
        var problems = new List<string>();
        if (Cases.Count == 0)
        {
            problems.Add("cases: the suite has no case");
        }

        foreach (var duplicate in Cases.GroupBy(c => c.Id, StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            problems.Add($"cases: the id '{duplicate.Key}' is used {duplicate.Count()} times");
        }

        for (var i = 0; i < Cases.Count; i++)
        {
            problems.AddRange(Cases[i].Problems(this).Select(p => $"cases[{i}] ({Cases[i].Id}).{p}"));
        }

        return problems;
    }

    /// <summary>The names of <c>${name}</c> in the cases that are none of <paramref name="known"/>, each once.</summary>
    public List<string> UnknownVariables(IEnumerable<string> known)
    {
        var names = known.ToHashSet(StringComparer.Ordinal);
        return [.. Cases
            .SelectMany(c => VariablePattern().Matches(JsonSerializer.Serialize(c, Options)).Select(m => m.Groups[1].Value))
            .Where(name => !names.Contains(name))
            .Distinct(StringComparer.Ordinal)];
    }

    /// <summary><c>${name}</c>: a variable in a string of a case.</summary>
    [GeneratedRegex(@"\$\{([A-Za-z0-9_.-]+)\}")]
    internal static partial Regex VariablePattern();

    /// <summary>The API key of <paramref name="user"/> (a <c>$VARIABLE</c> value is read from the environment); null: the CLI's own key.</summary>
    public string? KeyOf(string? user, Func<string, string?> variable)
    {
        user ??= DefaultUser;
        if (user is null)
        {
            return null;
        }

        if (Users?.TryGetValue(user, out var key) != true || string.IsNullOrEmpty(key))
        {
            throw new CliException(ExitCodes.Usage, $"The suite names no API key for user '{user}' (\"users\").");
        }

        return key.StartsWith('$')
            ? variable(key[1..]) ?? throw new CliException(ExitCodes.Usage, $"The environment variable {key[1..]} (the API key of user '{user}') is not set.")
            : key;
    }
}

/// <summary>One case: the task to submit (the body of <c>POST /api/tasks</c>), who submits it, faults, an approver's decision, expectations.</summary>
internal sealed record EvalCase(
    string Id,
    JsonObject Task,
    EvalExpectation Expect,
    string? Description = null,
    string? As = null,
    IReadOnlyList<EvalFault>? Faults = null,
    EvalApproval? Approval = null,
    TimeSpan? Timeout = null)
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(2);

    public bool HasFaults => Faults is { Count: > 0 };

    public IEnumerable<string> Problems(EvalSuite suite)
    {
        if (!Regex.IsMatch(Id, "^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"))
        {
            yield return "id: letters, digits, '.', '_' and '-' only, 1-100 characters";
        }

        if (As is not null && suite.Users?.ContainsKey(As) != true)
        {
            yield return $"as: no user '{As}' in \"users\"";
        }

        if (Approval is not null && suite.Users?.ContainsKey(Approval.As) != true)
        {
            yield return $"approval.as: no user '{Approval.As}' in \"users\"";
        }

        if (Approval is not null && Approval.Decision is not ("approve" or "reject"))
        {
            yield return "approval.decision: 'approve' or 'reject'";
        }

        var usesFaults = Task.ToJsonString().Contains("${faults}", StringComparison.Ordinal);
        if (HasFaults != usesFaults)
        {
            yield return HasFaults
                ? "faults: declared, but no value of the task uses ${faults} to ask for them"
                : "task: uses ${faults} but the case declares no faults";
        }

        foreach (var (fault, index) in (Faults ?? []).Select((f, i) => (f, i)))
        {
            foreach (var problem in fault.Problems())
            {
                yield return $"faults[{index}].{problem}";
            }
        }

        foreach (var problem in Expect.Problems())
        {
            yield return "expect." + problem;
        }
    }
}

/// <summary>
/// A fault the sample tools can be asked for: <c>web.fetch</c> through the knowledge base's fault hook
/// (<c>transient</c>: the first <c>count</c> fetches answer 503; <c>timeout</c>: the first <c>count</c> fetches are
/// slower than <c>delay</c>; <c>permanent</c>: every fetch answers 410).
/// </summary>
internal sealed record EvalFault(string Tool, string Kind, int Count = 1, TimeSpan? Delay = null)
{
    public const string WebFetch = "web.fetch";

    /// <summary>Longer than the web tool's default <c>WebFetch:Timeout</c> (5 s).</summary>
    public static readonly TimeSpan DefaultDelay = TimeSpan.FromSeconds(6);

    public IEnumerable<string> Problems()
    {
        if (Tool != WebFetch)
        {
            yield return $"tool: only '{WebFetch}' can be made to fail (through the sample knowledge base)";
        }

        if (Kind is not ("transient" or "timeout" or "permanent"))
        {
            yield return "kind: 'transient', 'timeout' or 'permanent'";
        }

        if (Count is < 1 or > 10)
        {
            yield return "count: 1-10";
        }
    }

    /// <summary>The knowledge base's query string for <paramref name="faults"/> in run <paramref name="run"/> (empty without faults).</summary>
    public static string QueryString(IReadOnlyList<EvalFault>? faults, string run)
    {
        if (faults is not { Count: > 0 })
        {
            return string.Empty;
        }

        var parts = new List<string> { "run=" + run };
        foreach (var fault in faults)
        {
            parts.Add(fault.Kind switch
            {
                "transient" => $"fail={fault.Count}",
                "timeout" => $"slow={fault.Count}&delayMs={(long)(fault.Delay ?? DefaultDelay).TotalMilliseconds}",
                _ => "gone=true",
            });
        }

        return "?" + string.Join('&', parts);
    }
}

/// <summary>A person's decision on the case's approval request, taken with <see cref="As"/>'s key once the task waits for it.</summary>
internal sealed record EvalApproval(string As, string Decision = "approve", string? Comment = null);

/// <summary>What a run of the case must show.</summary>
internal sealed record EvalExpectation(
    string Status,
    IReadOnlyList<EvalCall>? Calls = null,
    IReadOnlyList<EvalCall>? NotCalled = null,
    IReadOnlyList<JsonObject>? Assertions = null,
    EvalLimits? Within = null)
{
    public IEnumerable<string> Problems()
    {
        foreach (var (call, index) in (Calls ?? []).Select((c, i) => (c, i)))
        {
            foreach (var problem in call.Problems())
            {
                yield return $"calls[{index}].{problem}";
            }
        }

        foreach (var (call, index) in (NotCalled ?? []).Select((c, i) => (c, i)))
        {
            foreach (var problem in call.Problems())
            {
                yield return $"notCalled[{index}].{problem}";
            }
        }

        foreach (var (assertion, index) in (Assertions ?? []).Select((a, i) => (a, i)))
        {
            var path = assertion["path"] is JsonValue value && value.TryGetValue<string>(out var p) ? p : null;
            if (path is null || JsonPath.Problem(path) is not null)
            {
                yield return $"assertions[{index}].path: {(path is null ? "missing" : JsonPath.Problem(path))}";
            }

            if (JsonMatch.Problem(MatcherOf(assertion)) is { } problem)
            {
                yield return $"assertions[{index}]: {problem}";
            }
        }
    }

    /// <summary>The check of an assertion: the assertion without its path.</summary>
    public static JsonObject MatcherOf(JsonObject assertion) =>
        new(assertion.Where(p => p.Key != "path").Select(p => KeyValuePair.Create(p.Key, p.Value?.DeepClone())));
}

/// <summary>
/// A tool call: the tool, constraints on its arguments (argument path → value, or a matcher object) and, optionally,
/// how the call ended (the tool-call outcome of the log: Succeeded, Failed, ApprovalRequired, Rejected, Denied, ...).
/// </summary>
internal sealed record EvalCall(string Tool, Dictionary<string, JsonNode?>? Arguments = null, string? Outcome = null)
{
    public IEnumerable<string> Problems()
    {
        foreach (var (path, constraint) in Arguments ?? [])
        {
            if (JsonPath.Problem(ArgumentPath(path)) is { } pathProblem)
            {
                yield return $"arguments.{path}: {pathProblem}";
            }
            else if (constraint is JsonObject matcher && JsonMatch.Problem(matcher) is { } problem)
            {
                yield return $"arguments.{path}: {problem}";
            }
        }
    }

    /// <summary>Whether a call of <paramref name="tool"/> with <paramref name="arguments"/> that ended <paramref name="outcome"/> is this one.</summary>
    public bool Matches(string tool, JsonNode? arguments, string? outcome) =>
        tool == Tool && (Outcome is null || Outcome == outcome) && (Arguments ?? []).All(a => JsonMatch.Holds(a.Value is JsonObject m ? m : new JsonObject { ["equals"] = a.Value?.DeepClone() }, JsonPath.Select(arguments, ArgumentPath(a.Key))));

    public override string ToString() =>
        (Arguments is { Count: > 0 } ? $"{Tool} {{{string.Join(", ", Arguments.Select(a => $"{a.Key}: {a.Value?.ToJsonString()}"))}}}" : Tool)
        + (Outcome is null ? string.Empty : $" ({Outcome})");

    private static string ArgumentPath(string path) => path.StartsWith('$') ? path : "$." + path;
}

/// <summary>Upper limits of one run: steps started, tokens, cost and latency (submission to the end, server time).</summary>
internal sealed record EvalLimits(int? Steps = null, long? Tokens = null, decimal? Cost = null, long? LatencyMs = null);
