using System.Text;
using System.Text.RegularExpressions;

namespace Agents.Deployment.Tests.Infrastructure;

/// <summary>A metric as Prometheus scrapes it from a service's /metrics, and the instrument that produces it.</summary>
internal sealed record ExportedMetric(string PrometheusName, string Instrument, string Kind, string Source)
{
    public bool IsHistogram => Kind == "Histogram";
}

/// <summary>
/// The metrics the services export, read from the code: every <c>Create{Counter,Histogram,...}&lt;T&gt;(name, unit, ...)</c>
/// of a meter in services/ and shared/ (names given as literals or as string constants), turned into the names the
/// OpenTelemetry Prometheus exporter serves (dots to underscores, the unit's suffix — <c>s</c> gives <c>_seconds</c>,
/// annotations such as <c>{token}</c> none —, <c>_total</c> on counters). Plus the few instruments of libraries the
/// services turn on that the dashboards read.
/// </summary>
internal static partial class InstrumentCatalog
{
    /// <summary>Instruments of ASP.NET Core and Microsoft.Extensions.AI (GenAI semantic conventions) the dashboards use.</summary>
    public static readonly ExportedMetric[] Libraries =
    [
        new("http_server_request_duration_seconds", "http.server.request.duration", "Histogram", "ASP.NET Core"),
        new("gen_ai_client_operation_duration_seconds", "gen_ai.client.operation.duration", "Histogram", "Microsoft.Extensions.AI"),
        new("gen_ai_client_token_usage", "gen_ai.client.token.usage", "Histogram", "Microsoft.Extensions.AI"),
    ];

    private static readonly Lazy<IReadOnlyList<ExportedMetric>> FromCode = new(Scan);

    public static IReadOnlyList<ExportedMetric> Platform => FromCode.Value;

    public static IEnumerable<ExportedMetric> All => Platform.Concat(Libraries);

    /// <summary>True when <paramref name="series"/> (a name in a query, perhaps with _bucket/_sum/_count) is exported.</summary>
    public static bool Exports(string series) => All.Any(m => m.PrometheusName == series
        || (m.IsHistogram && (series == m.PrometheusName + "_bucket" || series == m.PrometheusName + "_sum" || series == m.PrometheusName + "_count")));

    public static string PrometheusName(string instrument, string? unit, string kind)
    {
        var name = instrument.Replace('.', '_').Replace('-', '_');
        var suffix = unit switch
        {
            "s" => "seconds",
            "ms" => "milliseconds",
            "By" => "bytes",
            _ => null,
        };
        if (suffix is not null && !name.EndsWith("_" + suffix, StringComparison.Ordinal))
        {
            name += "_" + suffix;
        }

        return kind is "Counter" or "ObservableCounter" ? name + "_total" : name;
    }

    private static List<ExportedMetric> Scan()
    {
        var files = new[] { "services", "shared" }
            .SelectMany(d => Directory.EnumerateFiles(Repository.PathOf(d), "*.cs", SearchOption.AllDirectories))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Select(f => (Path: f, Text: File.ReadAllText(f)))
            .ToList();
        var constants = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (_, text) in files)
        {
            foreach (Match m in ConstantPattern().Matches(text))
            {
                constants[m.Groups[1].Value] = m.Groups[2].Value;
            }
        }

        var metrics = new List<ExportedMetric>();
        foreach (var (path, text) in files)
        {
            foreach (Match m in CreatePattern().Matches(text))
            {
                var kind = m.Groups[1].Value;
                var arguments = Arguments(text, m.Index + m.Length);
                var name = Resolve(arguments[0], constants)
                    ?? throw new InvalidOperationException($"{Repository.Relative(path)}: instrument name '{arguments[0]}' is neither a literal nor a string constant.");
                var unitArgument = arguments.FirstOrDefault(a => a.StartsWith("unit:", StringComparison.Ordinal))?["unit:".Length..].Trim()
                    ?? arguments.ElementAtOrDefault(kind.StartsWith("Observable", StringComparison.Ordinal) ? 2 : 1);
                var unit = unitArgument is not null && unitArgument.StartsWith('"') ? Resolve(unitArgument, constants) : null;
                metrics.Add(new ExportedMetric(PrometheusName(name, unit, kind), name, kind, Repository.Relative(path)));
            }
        }

        return metrics;
    }

    private static string? Resolve(string argument, Dictionary<string, string> constants)
    {
        if (argument.StartsWith('"') && argument.EndsWith('"'))
        {
            return argument[1..^1];
        }

        return constants.GetValueOrDefault(argument[(argument.LastIndexOf('.') + 1)..]);
    }

    /// <summary>The top-level arguments of the call whose '(' ends at <paramref name="start"/>.</summary>
    private static List<string> Arguments(string text, int start)
    {
        var arguments = new List<string>();
        var current = new StringBuilder();
        var depth = 0;
        for (var i = start; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '"')
            {
                var end = i + 1;
                while (text[end] != '"')
                {
                    end += text[end] == '\\' ? 2 : 1;
                }

                current.Append(text, i, end - i + 1);
                i = end;
                continue;
            }

            if (c is '(' or '[' or '{')
            {
                depth++;
            }
            else if (c is ')' or ']' or '}')
            {
                if (depth-- == 0)
                {
                    arguments.Add(current.ToString().Trim());
                    return arguments;
                }
            }
            else if (c == ',' && depth == 0)
            {
                arguments.Add(current.ToString().Trim());
                current.Clear();
                continue;
            }

            current.Append(c);
        }

        throw new InvalidOperationException("Unbalanced instrument creation call.");
    }

    [GeneratedRegex(@"\.Create(Counter|Histogram|UpDownCounter|Gauge|ObservableGauge|ObservableCounter|ObservableUpDownCounter)(?:<[^>]+>)?\(")]
    private static partial Regex CreatePattern();

    [GeneratedRegex(@"const string (\w+) = ""([^""]+)"";")]
    private static partial Regex ConstantPattern();
}
