using System.Globalization;

namespace Agents.Cli.Evaluation;

/// <summary>
/// How much worse a figure may get before it is a regression: rates (success, precision, recall, recovery; overall
/// and per case) by <see cref="Rate"/> absolute; steps, tokens and cost by <see cref="Cost"/> relative; latency by
/// <see cref="Latency"/> relative (it varies most from run to run).
/// </summary>
internal sealed record EvalThresholds(double Rate = 0.05, double Cost = 0.10, double Latency = 0.50);

/// <summary>One figure of two runs side by side.</summary>
internal sealed record EvalChange(string Figure, string Before, string After, string Change, string Verdict)
{
    public const string Improved = "improved";
    public const string Regressed = "REGRESSED";
    public const string Same = "same";
    public const string Within = "worse, within threshold";

    public bool IsRegression => Verdict == Regressed;
}

/// <summary>Compares two stored runs figure by figure (<c>agents eval compare</c>).</summary>
internal static class EvalComparison
{
    public static List<EvalChange> Compare(EvalRun before, EvalRun after, EvalThresholds thresholds)
    {
        var changes = new List<EvalChange>();
        var (a, b) = (before.Summary, after.Summary);
        Rate(changes, "success rate", a.SuccessRate, b.SuccessRate, thresholds.Rate);
        Rate(changes, "tool-call precision", a.Precision, b.Precision, thresholds.Rate);
        Rate(changes, "tool-call recall", a.Recall, b.Recall, thresholds.Rate);
        Rate(changes, "recovery rate", a.RecoveryRate, b.RecoveryRate, thresholds.Rate);
        Amount(changes, "latency p50 (ms)", a.LatencyP50Ms, b.LatencyP50Ms, thresholds.Latency, "0");
        Amount(changes, "latency p95 (ms)", a.LatencyP95Ms, b.LatencyP95Ms, thresholds.Latency, "0");
        Amount(changes, "steps per run", a.MeanSteps, b.MeanSteps, thresholds.Cost, "0.##");
        Amount(changes, "tokens per run", a.MeanTokens, b.MeanTokens, thresholds.Cost, "0.#");
        Amount(changes, "cost per run", (double)a.MeanCost, (double)b.MeanCost, thresholds.Cost, "0.######");

        var earlier = before.Cases.ToDictionary(c => c.Id, StringComparer.Ordinal);
        foreach (var @case in after.Cases)
        {
            if (earlier.Remove(@case.Id, out var was))
            {
                Rate(changes, $"case {@case.Id}: success rate", was.Summary.SuccessRate, @case.Summary.SuccessRate, thresholds.Rate, reportSame: false);
            }
            else
            {
                changes.Add(new EvalChange($"case {@case.Id}", "-", Percent(@case.Summary.SuccessRate), "new case", EvalChange.Same));
            }
        }

        changes.AddRange(earlier.Values.Select(c => new EvalChange($"case {c.Id}", Percent(c.Summary.SuccessRate), "-", "case removed", EvalChange.Same)));
        return changes;
    }

    public static string Percent(double? rate) => rate is { } r ? (r * 100).ToString("0.#", CultureInfo.InvariantCulture) + "%" : "n/a";

    private static void Rate(List<EvalChange> changes, string figure, double? before, double? after, double threshold, bool reportSame = true)
    {
        if (before is not { } a || after is not { } b)
        {
            if (before is not null || after is not null)
            {
                changes.Add(new EvalChange(figure, Percent(before), Percent(after), "n/a", EvalChange.Same));
            }

            return;
        }

        var delta = b - a;
        var verdict = delta < -threshold - 1e-9 ? EvalChange.Regressed : delta > 1e-9 ? EvalChange.Improved : delta < -1e-9 ? EvalChange.Within : EvalChange.Same;
        if (reportSame || verdict != EvalChange.Same)
        {
            changes.Add(new EvalChange(figure, Percent(a), Percent(b), (delta * 100).ToString("+0.#;-0.#;0", CultureInfo.InvariantCulture) + " pt", verdict));
        }
    }

    private static void Amount(List<EvalChange> changes, string figure, double before, double after, double threshold, string format)
    {
        var relative = before == 0 ? (after == 0 ? 0 : double.PositiveInfinity) : (after - before) / before;
        var verdict = relative > threshold + 1e-9 ? EvalChange.Regressed : relative < -1e-9 ? EvalChange.Improved : relative > 1e-9 ? EvalChange.Within : EvalChange.Same;
        var change = double.IsPositiveInfinity(relative) ? "from 0" : (relative * 100).ToString("+0.#;-0.#;0", CultureInfo.InvariantCulture) + "%";
        changes.Add(new EvalChange(figure, before.ToString(format, CultureInfo.InvariantCulture), after.ToString(format, CultureInfo.InvariantCulture), change, verdict));
    }
}
