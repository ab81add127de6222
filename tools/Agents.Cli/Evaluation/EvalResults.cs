using System.Text.Json;
using System.Text.Json.Serialization;

namespace Agents.Cli.Evaluation;

/// <summary>A stored evaluation run (the file <c>agents eval run --out</c> writes and <c>agents eval compare</c> reads).</summary>
internal sealed record EvalRun(
    string Suite,
    string SuiteFile,
    string Gateway,
    int Repeat,
    DateTimeOffset StartedAt,
    DateTimeOffset FinishedAt,
    EvalSummary Summary,
    IReadOnlyList<EvalCaseResult> Cases)
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    /// <summary>The named model the run's model steps ran on (<c>--model</c>); null: each step's own or the executor's.</summary>
    public string? Model { get; init; }

    public static EvalRun Load(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<EvalRun>(File.ReadAllText(path), Json)
                ?? throw new CliException(ExitCodes.Usage, $"{path} holds no evaluation run.");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException)
        {
            throw new CliException(ExitCodes.Usage, $"The evaluation run {path} could not be read: {ex.Message}");
        }
    }

    public void Save(string path)
    {
        if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } directory)
        {
            Directory.CreateDirectory(directory);
        }

        File.WriteAllText(path, JsonSerializer.Serialize(this, Json));
    }
}

/// <summary>A case's runs and their summary.</summary>
internal sealed record EvalCaseResult(string Id, bool Faulted, EvalSummary Summary, IReadOnlyList<EvalCaseRun> Runs);

/// <summary>
/// One run of a case. Calls are the distinct (step, tool) calls of the task's log; <see cref="ExpectedCallsMade"/> of
/// the case's expected calls were made, and <see cref="CallsExpected"/> of the calls made were expected.
/// </summary>
internal sealed record EvalCaseRun(
    int Attempt,
    Guid? TaskId,
    string? Status,
    bool Passed,
    IReadOnlyList<string> Failures,
    double LatencyMs,
    int Steps,
    long Tokens,
    decimal Cost,
    int ExpectedCalls,
    int ExpectedCallsMade,
    int Calls,
    int CallsExpected,
    IReadOnlyList<string> Tools);

/// <summary>
/// Figures over runs. Success rate: runs that met every expectation. Precision: calls made that were expected;
/// recall: expected calls that were made (both over all calls of the runs, null when there were none). Latency
/// percentiles by nearest rank. Recovery rate: runs with injected faults that still met every expectation.
/// </summary>
internal sealed record EvalSummary(
    int Runs,
    int Passed,
    double SuccessRate,
    double? Precision,
    double? Recall,
    double LatencyP50Ms,
    double LatencyP95Ms,
    double MeanSteps,
    double MeanTokens,
    decimal MeanCost,
    int Steps,
    long Tokens,
    decimal Cost,
    int FaultRuns,
    int Recovered,
    double? RecoveryRate)
{
    public static EvalSummary Of(IReadOnlyList<(EvalCaseRun Run, bool Faulted)> runs)
    {
        var count = runs.Count;
        var passed = runs.Count(r => r.Run.Passed);
        var calls = runs.Sum(r => r.Run.Calls);
        var expected = runs.Sum(r => r.Run.ExpectedCalls);
        var latencies = runs.Select(r => r.Run.LatencyMs).Order().ToList();
        var faulted = runs.Where(r => r.Faulted).ToList();
        var recovered = faulted.Count(r => r.Run.Passed);
        return new EvalSummary(
            count,
            passed,
            Ratio(passed, count) ?? 0,
            Ratio(runs.Sum(r => r.Run.CallsExpected), calls),
            Ratio(runs.Sum(r => r.Run.ExpectedCallsMade), expected),
            Percentile(latencies, 0.50),
            Percentile(latencies, 0.95),
            count == 0 ? 0 : Math.Round(runs.Average(r => r.Run.Steps), 2),
            count == 0 ? 0 : Math.Round(runs.Average(r => (double)r.Run.Tokens), 1),
            count == 0 ? 0 : Math.Round(runs.Sum(r => r.Run.Cost) / count, 6),
            runs.Sum(r => r.Run.Steps),
            runs.Sum(r => r.Run.Tokens),
            runs.Sum(r => r.Run.Cost),
            faulted.Count,
            recovered,
            Ratio(recovered, faulted.Count));
    }

    /// <summary>Nearest rank: the smallest value with at least <paramref name="quantile"/> of the values at or below it.</summary>
    public static double Percentile(IReadOnlyList<double> sorted, double quantile) =>
        sorted.Count == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(quantile * sorted.Count) - 1, 0, sorted.Count - 1)];

    private static double? Ratio(int part, int whole) => whole == 0 ? null : Math.Round((double)part / whole, 4);
}
