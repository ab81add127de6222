using System.Text.RegularExpressions;

namespace Agents.Contracts;

/// <summary>
/// The rules a plan step's own fields follow, in one place: the executor checks a submission's steps with them, the
/// planner every plan it makes (and the JSON schema it gives the planner model), so a step that one accepts the other
/// never refuses for its id, attempts or timeout.
/// </summary>
public static partial class StepRules
{
    /// <summary>A step id: a letter, then letters, digits, '-' or '_', at most <see cref="MaxIdLength"/> in all.</summary>
    public const string IdPattern = "^[A-Za-z][A-Za-z0-9_-]{0,63}$";

    /// <summary>The longest step id.</summary>
    public const int MaxIdLength = 64;

    /// <summary>What <see cref="IdPattern"/> asks, for a person.</summary>
    public const string IdRule = "a step id must start with a letter and hold only letters, digits, '-' and '_' (at most 64)";

    /// <summary>The fewest attempts a step may be given.</summary>
    public const int MinAttempts = 1;

    /// <summary>The most attempts a step may be given.</summary>
    public const int MaxAttempts = 10;

    /// <summary>The longest timeout of one attempt of a step (a step's own <c>timeout</c>, or the executor's default).</summary>
    public static TimeSpan MaxTimeout { get; } = TimeSpan.FromHours(1);

    /// <summary>True when <paramref name="id"/> matches <see cref="IdPattern"/>.</summary>
    public static bool IsValidId(string? id) => id is not null && Id().IsMatch(id);

    /// <summary>True when <paramref name="attempts"/> is within <see cref="MinAttempts"/>..<see cref="MaxAttempts"/>.</summary>
    public static bool IsValidAttempts(int attempts) => attempts is >= MinAttempts and <= MaxAttempts;

    /// <summary>True when <paramref name="timeout"/> is positive and at most <see cref="MaxTimeout"/>.</summary>
    public static bool IsValidTimeout(TimeSpan timeout) => timeout > TimeSpan.Zero && timeout <= MaxTimeout;

    /// <summary>A named model (<c>Models:Named:{name}</c>): a letter or digit, then letters, digits, '.', '-' or '_', at most 64 in all.</summary>
    public const string ModelNamePattern = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$";

    /// <summary>
    /// The problem with a step's <see cref="PlanStep.Model"/>, for a person, or null when there is none: only a model
    /// step may name a model, by a name of <see cref="ModelNamePattern"/>.
    /// </summary>
    public static string? ModelProblem(PlanStep step) => step.Model switch
    {
        null => null,
        _ when step.Kind != StepKind.Model => "model is only for model steps.",
        var name => ModelNameProblem(name),
    };

    /// <summary>The problem with <paramref name="name"/> as a model's name, for a person, or null when it is one of <see cref="ModelNamePattern"/>.</summary>
    public static string? ModelNameProblem(string name) => ModelName().IsMatch(name)
        ? null
        : $"model '{name}' is not a model name (a letter or digit, then letters, digits, '.', '-' or '_'; at most 64).";

    [GeneratedRegex(IdPattern)]
    private static partial Regex Id();

    [GeneratedRegex(ModelNamePattern)]
    private static partial Regex ModelName();
}

/// <summary>Idempotency keys (of task submissions and of tool calls): stored and compared as given, at most <see cref="MaxLength"/> characters.</summary>
public static class IdempotencyKeys
{
    /// <summary>The longest idempotency key.</summary>
    public const int MaxLength = 200;
}
