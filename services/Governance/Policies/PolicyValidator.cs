using System.Text.Json;
using Agents.Contracts;

namespace Agents.Governance.Policies;

/// <summary>One problem in a policy document: where (a JSON pointer) and what.</summary>
public sealed record PolicyError(string Pointer, string Message);

/// <summary>
/// Validates a policy document strictly (unknown properties are errors, so a typo never silently
/// weakens a policy) and builds the <see cref="PolicyDocument"/> with defaults filled in.
/// </summary>
public static class PolicyValidator
{
    /// <summary>The longest role name; a principal carries its roles in a header, so a longer one could never be held.</summary>
    public const int MaxRoleNameLength = 100;

    /// <summary>The largest policy document, in UTF-8 bytes.</summary>
    public const int MaxDocumentBytes = 64 * 1024;

    public const int MaxRoles = 100;
    public const int MaxPatternsPerList = 200;
    public const int MaxApprovalRules = 200;
    public const int MaxRiskTiers = 500;
    public const int MaxArgumentPointerLength = 200;
    public const int MaxEqualsLength = 1000;

    /// <summary>Why <paramref name="role"/> cannot be a role name, or null when it can: 1–100 printable characters, no spaces at either end.</summary>
    public static string? RoleNameProblem(string role)
    {
        if (role.Length is 0 or > MaxRoleNameLength)
        {
            return $"A role name has 1 to {MaxRoleNameLength} characters; this one has {role.Length}.";
        }

        if (role.Any(c => char.IsControl(c) || char.IsSurrogate(c) || c is '\u2028' or '\u2029' or '\uFEFF') || role.Trim().Length != role.Length)
        {
            return "A role name may hold only printable characters (no control characters, no spaces at either end).";
        }

        return role.Contains(',', StringComparison.Ordinal) ? "A role name may not contain ','." : null;
    }

    private static readonly string[] TopLevel = ["enabled", "adminRole", "approverRoles", "roles", "toolRiskTiers", "approvalRules", "budgets", "approval", "loopDetection", "untrustedArguments", "watchdog"];

    public static PolicyDocument? Validate(string json, out IReadOnlyList<PolicyError> errors)
    {
        var list = new List<PolicyError>();
        errors = list;
        JsonDocument parsed;
        try
        {
            parsed = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow });
        }
        catch (JsonException ex)
        {
            list.Add(new PolicyError(string.Empty, $"The policy is not valid JSON: {ex.Message}"));
            return null;
        }

        using (parsed)
        {
            var root = parsed.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                list.Add(new PolicyError(string.Empty, "The policy must be a JSON object."));
                return null;
            }

            var v = new Walker(list);
            v.NoUnknown(root, string.Empty, TopLevel);
            var enabled = v.Bool(root, "/enabled", "enabled", required: true) ?? false;
            var adminRole = v.Name(root, "/adminRole", "adminRole", required: true) ?? string.Empty;
            var approverRoles = v.Names(root, "/approverRoles", "approverRoles", required: true, minCount: 1);
            var roles = v.Roles(root);
            var riskTiers = v.RiskTiers(root);
            var rules = v.Rules(root);
            var budgets = v.Budgets(root);
            var approval = v.Approval(root, roles);
            var loop = v.Loop(root);
            var untrusted = v.UntrustedArguments(root);
            var watchdog = v.Watchdog(root);

            return list.Count > 0
                ? null
                : new PolicyDocument(enabled, adminRole, approverRoles, roles, riskTiers, rules, budgets, approval, loop, untrusted, watchdog);
        }
    }

    private static string Shorten(string text) => text.Length > 100 ? text[..100] + "…" : text;

    private static string Escape(string token) => token.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);

    private sealed class Walker(List<PolicyError> errors)
    {
        private static readonly string[] RoleProps = ["tools", "scopes"];
        private static readonly string[] RuleProps = ["tool", "sideEffect", "minRisk", "argument", "greaterThan", "lessThan", "equals"];
        private static readonly string[] BudgetProps = ["perTask", "perUserPerDay", "perTenantPerDay"];
        private static readonly string[] TaskBudgetProps = ["tokens", "cost", "toolCalls", "steps", "wallClockSeconds"];
        private static readonly string[] DailyProps = ["tokens", "cost", "toolCalls"];
        private static readonly string[] ApprovalProps = ["timeoutSeconds", "onExpiry", "escalateTo"];
        private static readonly string[] LoopProps = ["maxIdenticalCalls"];
        private static readonly string[] UntrustedProps = ["tool", "class", "decision"];
        private static readonly string[] WatchdogProps = ["denialSpike", "taskCost", "toolFailure", "approvalRejection"];
        private static readonly string[] ToolFailureProps = ["minFailures", "minShare", "killSwitch"];
        private static readonly string[] DenialSpikeProps = ["minDenied", "minShare", "killSwitch"];
        private static readonly string[] TaskCostProps = ["factor", "minSamples", "killSwitch"];
        private static readonly string[] ApprovalRejectionProps = ["minRejected", "minShare", "killSwitch"];

        public WatchdogPolicy? Watchdog(JsonElement root)
        {
            if (Object(root, string.Empty, "watchdog") is not { } watchdog)
            {
                return null;
            }

            NoUnknown(watchdog, "/watchdog", WatchdogProps);
            var denialDefaults = new DenialSpikeRule();
            var denial = ShareRule(watchdog, "denialSpike", "minDenied", DenialSpikeProps, (denialDefaults.MinDenied, denialDefaults.MinShare, denialDefaults.KillSwitch));
            var failureDefaults = new ToolFailureRule();
            var failure = ShareRule(watchdog, "toolFailure", "minFailures", ToolFailureProps, (failureDefaults.MinFailures, failureDefaults.MinShare, failureDefaults.KillSwitch));
            var rejectionDefaults = new ApprovalRejectionRule();
            var rejection = ShareRule(watchdog, "approvalRejection", "minRejected", ApprovalRejectionProps, (rejectionDefaults.MinRejected, rejectionDefaults.MinShare, rejectionDefaults.KillSwitch));

            var cost = new TaskCostRule();
            if (Object(watchdog, "/watchdog", "taskCost") is { } taskCost)
            {
                NoUnknown(taskCost, "/watchdog/taskCost", TaskCostProps);
                cost = new TaskCostRule(
                    Bounded(taskCost, "/watchdog/taskCost", "factor", 1.5m, 1000m, whole: false) ?? cost.Factor,
                    Bounded(taskCost, "/watchdog/taskCost", "minSamples", 3, 10_000, whole: true) is { } samples ? (int)samples : cost.MinSamples,
                    Switch(taskCost, "/watchdog/taskCost", [WatchdogKillSwitch.None, WatchdogKillSwitch.Tenant]) ?? cost.KillSwitch);
            }

            return new WatchdogPolicy(
                new DenialSpikeRule(denial.Count, denial.Share, denial.KillSwitch),
                cost,
                new ToolFailureRule(failure.Count, failure.Share, failure.KillSwitch),
                new ApprovalRejectionRule(rejection.Count, rejection.Share, rejection.KillSwitch));
        }

        /// <summary>A rule that fires on a count and a share of a tool's entries (denials, failures, rejected approvals).</summary>
        private (int Count, decimal Share, WatchdogKillSwitch KillSwitch) ShareRule(
            JsonElement watchdog, string name, string countName, string[] props, (int Count, decimal Share, WatchdogKillSwitch KillSwitch) defaults)
        {
            if (Object(watchdog, "/watchdog", name) is not { } rule)
            {
                return defaults;
            }

            var pointer = "/watchdog/" + name;
            NoUnknown(rule, pointer, props);
            return (
                Bounded(rule, pointer, countName, 1, 100_000, whole: true) is { } count ? (int)count : defaults.Count,
                Bounded(rule, pointer, "minShare", 0.01m, 1m, whole: false) ?? defaults.Share,
                Switch(rule, pointer, [WatchdogKillSwitch.None, WatchdogKillSwitch.Tool, WatchdogKillSwitch.Tenant]) ?? defaults.KillSwitch);
        }

        private decimal? Bounded(JsonElement obj, string pointer, string name, decimal min, decimal max, bool whole)
        {
            if (!obj.TryGetProperty(name, out var value))
            {
                return null;
            }

            if (value.ValueKind == JsonValueKind.Number && value.TryGetDecimal(out var n) && n >= min && n <= max && (!whole || n == decimal.Truncate(n)))
            {
                return n;
            }

            Error($"{pointer}/{name}", $"'{name}' must be a {(whole ? "whole number" : "number")} from {min} to {max}.");
            return null;
        }

        private WatchdogKillSwitch? Switch(JsonElement obj, string pointer, WatchdogKillSwitch[] allowed)
        {
            if (!obj.TryGetProperty("killSwitch", out var value))
            {
                return null;
            }

            var names = string.Join(", ", allowed.Select(a => $"\"{a.ToString().ToLowerInvariant()}\""));
            if (value.ValueKind == JsonValueKind.String && allowed.FirstOrDefault(a => string.Equals(a.ToString(), value.GetString(), StringComparison.OrdinalIgnoreCase)) is var match
                && string.Equals(match.ToString(), value.GetString(), StringComparison.OrdinalIgnoreCase))
            {
                return match;
            }

            Error(pointer + "/killSwitch", $"'killSwitch' must be one of {names}.");
            return null;
        }

        public List<UntrustedArgumentRule> UntrustedArguments(JsonElement root)
        {
            var result = new List<UntrustedArgumentRule>();
            var shape = "'untrustedArguments' must be an array of rules {\"tool\": pattern, \"class\": \"data\" or \"control\", \"decision\": \"allow\", \"approve\" or \"deny\"}.";
            foreach (var (rule, pointer) in RuleObjects(root, "untrustedArguments", shape, "A rule must be an object {\"tool\", \"class\", \"decision\"}.", UntrustedProps))
            {
                var before = errors.Count;
                var tool = ToolPattern(rule, pointer, "'tool' must be a tool name pattern (e.g. 'tickets.create' or 'tickets.*'); leave it out for every tool.");

                ArgumentClass? @class = null;
                if (!rule.TryGetProperty("class", out var c))
                {
                    Error(pointer + "/class", "'class' is required: \"data\" (content such as a ticket body) or \"control\" (what steers the call: a recipient, an id, an amount, a URL).");
                }
                else
                {
                    @class = Enum<ArgumentClass>(c, pointer + "/class");
                }

                UntrustedFlow? decision = null;
                if (!rule.TryGetProperty("decision", out var d))
                {
                    Error(pointer + "/decision", "'decision' is required: \"allow\", \"approve\" or \"deny\".");
                }
                else
                {
                    decision = Enum<UntrustedFlow>(d, pointer + "/decision");
                }

                if (@class == ArgumentClass.Control && decision == UntrustedFlow.Allow)
                {
                    Error(pointer + "/decision", "Untrusted content may never steer a call unreviewed: a rule for class \"control\" decides \"approve\" or \"deny\", not \"allow\".");
                }

                if (errors.Count == before && @class is { } cls && decision is { } dec)
                {
                    result.Add(new UntrustedArgumentRule(tool, cls, dec));
                }
            }

            return result;
        }

        public void NoUnknown(JsonElement obj, string pointer, string[] known)
        {
            foreach (var property in obj.EnumerateObject())
            {
                if (!known.Contains(property.Name, StringComparer.Ordinal))
                {
                    Error($"{pointer}/{Escape(Shorten(property.Name))}", $"Unknown property '{Shorten(property.Name)}'. Allowed here: {string.Join(", ", known)}.");
                }
            }
        }

        public bool? Bool(JsonElement obj, string pointer, string name, bool required)
        {
            if (!obj.TryGetProperty(name, out var value))
            {
                return Missing<bool>(pointer, name, required, "true or false");
            }

            if (value.ValueKind is JsonValueKind.True or JsonValueKind.False)
            {
                return value.GetBoolean();
            }

            Error(pointer, $"'{name}' must be true or false.");
            return null;
        }

        public string? Name(JsonElement obj, string pointer, string name, bool required)
        {
            if (!obj.TryGetProperty(name, out var value))
            {
                if (required)
                {
                    Error(pointer, $"'{name}' is required (a non-empty string).");
                }

                return null;
            }

            if (value.ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(value.GetString()))
            {
                if (RoleNameProblem(value.GetString()!) is { } problem)
                {
                    Error(pointer, problem);
                    return null;
                }

                return value.GetString();
            }

            Error(pointer, $"'{name}' must be a non-empty string.");
            return null;
        }

        public List<string> Names(JsonElement obj, string pointer, string name, bool required, int minCount, bool patterns = false)
        {
            var result = new List<string>();
            if (!obj.TryGetProperty(name, out var value))
            {
                if (required)
                {
                    Error(pointer, $"'{name}' is required (an array of strings).");
                }

                return result;
            }

            if (value.ValueKind != JsonValueKind.Array)
            {
                Error(pointer, $"'{name}' must be an array of strings.");
                return result;
            }

            if (value.GetArrayLength() > MaxPatternsPerList)
            {
                Error(pointer, $"'{name}' has {value.GetArrayLength()} entries; at most {MaxPatternsPerList} are allowed.");
                return result;
            }

            var i = 0;
            foreach (var item in value.EnumerateArray())
            {
                var itemPointer = $"{pointer}/{i++}";
                if (item.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(item.GetString()))
                {
                    Error(itemPointer, "Must be a non-empty string.");
                    continue;
                }

                var s = item.GetString()!;
                if (patterns && !IsPattern(s))
                {
                    Error(itemPointer, $"'{Shorten(s)}' is not a valid name pattern: use lower-case letters, digits, '.', '-', '_', ':' and '*' as a wildcard (e.g. 'crm.*'), at most 100.");
                    continue;
                }

                if (!patterns && RoleNameProblem(s) is { } problem)
                {
                    Error(itemPointer, problem);
                    continue;
                }

                result.Add(s);
            }

            if (result.Count < minCount && value.GetArrayLength() < minCount)
            {
                Error(pointer, $"'{name}' needs at least {minCount} entry.");
            }

            return result;
        }

        public Dictionary<string, RolePolicy> Roles(JsonElement root)
        {
            var result = new Dictionary<string, RolePolicy>(StringComparer.Ordinal);
            if (!root.TryGetProperty("roles", out var roles))
            {
                return result;
            }

            if (roles.ValueKind != JsonValueKind.Object)
            {
                Error("/roles", "'roles' must be an object mapping a role name to {\"tools\": [...], \"scopes\": [...]}.");
                return result;
            }

            if (roles.EnumerateObject().Count() > MaxRoles)
            {
                Error("/roles", $"At most {MaxRoles} roles are allowed.");
                return result;
            }

            foreach (var role in roles.EnumerateObject())
            {
                var pointer = "/roles/" + Escape(Shorten(role.Name));
                if (string.IsNullOrWhiteSpace(role.Name))
                {
                    Error(pointer, "A role name must not be empty.");
                    continue;
                }

                if (RoleNameProblem(role.Name) is { } problem)
                {
                    Error(pointer, problem);
                    continue;
                }

                if (role.Value.ValueKind != JsonValueKind.Object)
                {
                    Error(pointer, "A role must be an object {\"tools\": [...], \"scopes\": [...]}.");
                    continue;
                }

                NoUnknown(role.Value, pointer, RoleProps);
                var tools = Names(role.Value, pointer + "/tools", "tools", required: true, minCount: 0, patterns: true);
                var scopes = Names(role.Value, pointer + "/scopes", "scopes", required: false, minCount: 0, patterns: true);
                result[role.Name] = new RolePolicy(tools, scopes);
            }

            return result;
        }

        public Dictionary<string, RiskTier> RiskTiers(JsonElement root)
        {
            var result = new Dictionary<string, RiskTier>(StringComparer.Ordinal);
            if (!root.TryGetProperty("toolRiskTiers", out var tiers))
            {
                return result;
            }

            if (tiers.ValueKind != JsonValueKind.Object)
            {
                Error("/toolRiskTiers", "'toolRiskTiers' must be an object mapping a tool name pattern to Low, Medium, High or Critical.");
                return result;
            }

            if (tiers.EnumerateObject().Count() > MaxRiskTiers)
            {
                Error("/toolRiskTiers", $"At most {MaxRiskTiers} risk tiers are allowed.");
                return result;
            }

            foreach (var tier in tiers.EnumerateObject())
            {
                var pointer = "/toolRiskTiers/" + Escape(Shorten(tier.Name));
                if (!IsPattern(tier.Name))
                {
                    Error(pointer, $"'{Shorten(tier.Name)}' is not a valid tool name pattern.");
                    continue;
                }

                if (Enum<RiskTier>(tier.Value, pointer) is { } parsed)
                {
                    result[tier.Name] = parsed;
                }
            }

            return result;
        }

        public List<ApprovalRule> Rules(JsonElement root)
        {
            var result = new List<ApprovalRule>();
            foreach (var (rule, pointer) in RuleObjects(root, "approvalRules", "'approvalRules' must be an array of rules.", "A rule must be an object.", RuleProps))
            {
                var before = errors.Count;
                var tool = ToolPattern(rule, pointer, "'tool' must be a tool name pattern (e.g. 'payments.refund' or 'payments.*').");

                SideEffectClass? sideEffect = rule.TryGetProperty("sideEffect", out var se) ? Enum<SideEffectClass>(se, pointer + "/sideEffect") : null;
                RiskTier? minRisk = rule.TryGetProperty("minRisk", out var mr) ? Enum<RiskTier>(mr, pointer + "/minRisk") : null;
                string? argument = null;
                if (rule.TryGetProperty("argument", out var a))
                {
                    argument = a.ValueKind == JsonValueKind.String && a.GetString()!.StartsWith('/') && a.GetString()!.Length <= MaxArgumentPointerLength
                        && !a.GetString()!.Any(char.IsControl) ? a.GetString() : null;
                    if (argument is null)
                    {
                        Error(pointer + "/argument", $"'argument' must be a JSON pointer into the arguments, starting with '/' (e.g. '/amount'), of at most {MaxArgumentPointerLength} printable characters.");
                    }
                }

                var greaterThan = Number(rule, pointer, "greaterThan");
                var lessThan = Number(rule, pointer, "lessThan");
                JsonElement? equalsValue = rule.TryGetProperty("equals", out var eq) ? eq.Clone() : null;
                var hasComparison = rule.TryGetProperty("greaterThan", out _) || rule.TryGetProperty("lessThan", out _) || equalsValue is not null;
                if (rule.TryGetProperty("argument", out _) && !hasComparison)
                {
                    Error(pointer, "A rule with 'argument' needs 'greaterThan', 'lessThan' or 'equals'.");
                }

                if (!rule.TryGetProperty("argument", out _) && hasComparison)
                {
                    Error(pointer, "'greaterThan', 'lessThan' and 'equals' need 'argument' (the JSON pointer they compare).");
                }

                if (equalsValue is { ValueKind: JsonValueKind.Object or JsonValueKind.Array })
                {
                    Error(pointer + "/equals", "'equals' must be a string, number, boolean or null.");
                }
                else if (equalsValue is { ValueKind: JsonValueKind.String } text && text.GetString()!.Length > MaxEqualsLength)
                {
                    Error(pointer + "/equals", $"'equals' may have at most {MaxEqualsLength} characters.");
                }

                if (!rule.TryGetProperty("tool", out _) && !rule.TryGetProperty("sideEffect", out _) && !rule.TryGetProperty("minRisk", out _) && !rule.TryGetProperty("argument", out _))
                {
                    Error(pointer, "A rule needs at least one of 'tool', 'sideEffect', 'minRisk' or 'argument'; an empty rule would match every call.");
                }

                if (errors.Count == before)
                {
                    result.Add(new ApprovalRule(tool, sideEffect, minRisk, argument, greaterThan, lessThan, equalsValue));
                }
            }

            return result;
        }

        /// <summary>The objects of the rule array <paramref name="name"/> (at most <see cref="MaxApprovalRules"/>), with their pointers; checks their shape.</summary>
        private List<(JsonElement Rule, string Pointer)> RuleObjects(JsonElement root, string name, string notArray, string notObject, string[] known)
        {
            var result = new List<(JsonElement, string)>();
            if (!root.TryGetProperty(name, out var rules))
            {
                return result;
            }

            if (rules.ValueKind != JsonValueKind.Array)
            {
                Error("/" + name, notArray);
                return result;
            }

            if (rules.GetArrayLength() > MaxApprovalRules)
            {
                Error("/" + name, $"At most {MaxApprovalRules} rules are allowed in '{name}'.");
                return result;
            }

            var i = 0;
            foreach (var rule in rules.EnumerateArray())
            {
                var pointer = $"/{name}/{i++}";
                if (rule.ValueKind != JsonValueKind.Object)
                {
                    Error(pointer, notObject);
                    continue;
                }

                NoUnknown(rule, pointer, known);
                result.Add((rule, pointer));
            }

            return result;
        }

        /// <summary>A rule's optional 'tool' pattern (null when absent or invalid; invalid is an error).</summary>
        private string? ToolPattern(JsonElement rule, string pointer, string problem)
        {
            if (!rule.TryGetProperty("tool", out var t))
            {
                return null;
            }

            var tool = t.ValueKind == JsonValueKind.String && IsPattern(t.GetString()!) ? t.GetString() : null;
            if (tool is null)
            {
                Error(pointer + "/tool", problem);
            }

            return tool;
        }

        public BudgetPolicy Budgets(JsonElement root)
        {
            var defaults = PolicyDefaults.Budgets;
            if (!root.TryGetProperty("budgets", out var budgets))
            {
                return defaults;
            }

            if (budgets.ValueKind != JsonValueKind.Object)
            {
                Error("/budgets", "'budgets' must be an object with 'perTask', 'perUserPerDay' and 'perTenantPerDay'.");
                return defaults;
            }

            NoUnknown(budgets, "/budgets", BudgetProps);
            var perTask = defaults.PerTask;
            if (Object(budgets, "/budgets", "perTask") is { } task)
            {
                NoUnknown(task, "/budgets/perTask", TaskBudgetProps);
                perTask = new TaskBudgetLimits(
                    PositiveInt(task, "/budgets/perTask", "tokens"),
                    PositiveDecimal(task, "/budgets/perTask", "cost"),
                    PositiveInt(task, "/budgets/perTask", "toolCalls"),
                    PositiveInt(task, "/budgets/perTask", "steps"),
                    PositiveInt(task, "/budgets/perTask", "wallClockSeconds"));
            }

            return new BudgetPolicy(perTask, Daily(budgets, "perUserPerDay", defaults.PerUserPerDay), Daily(budgets, "perTenantPerDay", defaults.PerTenantPerDay));
        }

        public ApprovalPolicy Approval(JsonElement root, Dictionary<string, RolePolicy> roles)
        {
            var defaults = PolicyDefaults.Approval;
            if (Object(root, string.Empty, "approval") is not { } approval)
            {
                return defaults;
            }

            NoUnknown(approval, "/approval", ApprovalProps);
            var timeout = approval.TryGetProperty("timeoutSeconds", out _) ? PositiveInt(approval, "/approval", "timeoutSeconds") ?? defaults.TimeoutSeconds : defaults.TimeoutSeconds;
            if (timeout > 7 * 24 * 3600)
            {
                Error("/approval/timeoutSeconds", "'timeoutSeconds' must be at most 604800 (7 days).");
            }

            var onExpiry = ApprovalPolicy.Deny;
            if (approval.TryGetProperty("onExpiry", out var e))
            {
                onExpiry = e.ValueKind == JsonValueKind.String ? e.GetString()! : string.Empty;
                if (onExpiry is not (ApprovalPolicy.Deny or ApprovalPolicy.Escalate))
                {
                    Error("/approval/onExpiry", "'onExpiry' must be \"deny\" or \"escalate\".");
                }
            }

            var escalateTo = Name(approval, "/approval/escalateTo", "escalateTo", required: false);
            if (onExpiry == ApprovalPolicy.Escalate && escalateTo is null && !approval.TryGetProperty("escalateTo", out _))
            {
                Error("/approval/escalateTo", "'escalateTo' (the role that decides after escalation) is required when 'onExpiry' is \"escalate\".");
            }

            return new ApprovalPolicy(timeout, onExpiry, escalateTo);
        }

        public LoopDetectionPolicy Loop(JsonElement root)
        {
            if (Object(root, string.Empty, "loopDetection") is not { } loop)
            {
                return PolicyDefaults.LoopDetection;
            }

            NoUnknown(loop, "/loopDetection", LoopProps);
            var max = PositiveInt(loop, "/loopDetection", "maxIdenticalCalls") ?? PolicyDefaults.LoopDetection.MaxIdenticalCalls;
            return new LoopDetectionPolicy(max);
        }

        private DailyLimits Daily(JsonElement budgets, string name, DailyLimits defaults)
        {
            var pointer = "/budgets/" + name;
            if (Object(budgets, "/budgets", name) is not { } daily)
            {
                return defaults;
            }

            NoUnknown(daily, pointer, DailyProps);
            var tokens = PositiveInt(daily, pointer, "tokens", long.MaxValue);
            return new DailyLimits(tokens, PositiveDecimal(daily, pointer, "cost"), PositiveInt(daily, pointer, "toolCalls"));
        }

        private JsonElement? Object(JsonElement parent, string parentPointer, string name)
        {
            if (!parent.TryGetProperty(name, out var value))
            {
                return null;
            }

            if (value.ValueKind != JsonValueKind.Object)
            {
                Error($"{parentPointer}/{name}", $"'{name}' must be an object.");
                return null;
            }

            return value;
        }

        private int? PositiveInt(JsonElement obj, string pointer, string name) =>
            PositiveInt(obj, pointer, name, int.MaxValue) is { } v ? (int)v : null;

        private long? PositiveInt(JsonElement obj, string pointer, string name, long max)
        {
            if (!obj.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
            {
                return null;
            }

            if (value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var n) && n > 0 && n <= max)
            {
                return n;
            }

            Error($"{pointer}/{name}", $"'{name}' must be a positive whole number (at most {max}), or null for no limit.");
            return null;
        }

        private decimal? PositiveDecimal(JsonElement obj, string pointer, string name)
        {
            if (!obj.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
            {
                return null;
            }

            if (value.ValueKind == JsonValueKind.Number && value.TryGetDecimal(out var n) && n > 0)
            {
                return n;
            }

            Error($"{pointer}/{name}", $"'{name}' must be a positive number, or null for no limit.");
            return null;
        }

        private decimal? Number(JsonElement obj, string pointer, string name)
        {
            if (!obj.TryGetProperty(name, out var value))
            {
                return null;
            }

            if (value.ValueKind == JsonValueKind.Number && value.TryGetDecimal(out var n))
            {
                return n;
            }

            Error($"{pointer}/{name}", $"'{name}' must be a number.");
            return null;
        }

        private T? Enum<T>(JsonElement value, string pointer)
            where T : struct, System.Enum
        {
            if (value.ValueKind == JsonValueKind.String && System.Enum.TryParse<T>(value.GetString(), ignoreCase: true, out var parsed) && !int.TryParse(value.GetString(), out _))
            {
                return parsed;
            }

            Error(pointer, $"Must be one of {string.Join(", ", System.Enum.GetNames<T>())}.");
            return null;
        }

        private T? Missing<T>(string pointer, string name, bool required, string expected)
            where T : struct
        {
            if (required)
            {
                Error(pointer, $"'{name}' is required ({expected}).");
            }

            return null;
        }

        private static bool IsPattern(string s) =>
            s.Length is > 0 and <= 100 && s.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '.' or '-' or '_' or ':' or '*');

        private void Error(string pointer, string message) => errors.Add(new PolicyError(pointer, message));
    }
}
