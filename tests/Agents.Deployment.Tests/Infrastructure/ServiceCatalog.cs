using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Agents.Deployment.Tests.Infrastructure;

/// <summary>
/// A runnable host of the suite, discovered from the repository: every <c>services/**/*.csproj</c> whose Sdk is
/// Microsoft.NET.Sdk.Web or whose OutputType is Exe.
/// </summary>
internal sealed record HostProject(
    string Name,
    string ProjectPath,
    bool IsTool,
    bool OwnsDatabase,
    string? Database,
    IReadOnlyList<string> RequiredKeys)
{
    public override string ToString() => Name;
}

/// <summary>
/// Discovers hosts and the configuration keys each requires in a container (docs/deploying.md, "What the
/// consistency test demands"). A required key, in environment-variable form (<c>Section__Key</c>), is:
/// <list type="number">
/// <item>every <c>ConnectionStrings:*</c> key of the host's appsettings.json;</item>
/// <item>every key of appsettings.json whose value names a loopback address (127.0.0.1, localhost, [::1]): a local
/// default that cannot work in a container (Urls, backend addresses, allowlists...);</item>
/// <item><c>Identity:SigningKey</c>, <c>HostOptions:ShutdownTimeout</c> and <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> for every host;</item>
/// <item>every line of an optional <c>deploy.required-keys</c> file next to the project (<c>#</c> starts a comment).</item>
/// </list>
/// </summary>
internal static partial class ServiceCatalog
{
    public static readonly string[] EveryHostKeys = ["Identity__SigningKey", "HostOptions__ShutdownTimeout", "OTEL_EXPORTER_OTLP_ENDPOINT"];

    private static readonly Lazy<IReadOnlyList<HostProject>> Discovered = new(() => Discover(Repository.PathOf("services")));

    public static IReadOnlyList<HostProject> Hosts => Discovered.Value;

    public static IReadOnlyList<HostProject> Discover(string servicesDirectory)
    {
        var hosts = new List<HostProject>();
        foreach (var project in Directory.EnumerateFiles(servicesDirectory, "*.csproj", SearchOption.AllDirectories)
                     .Where(p => !p.Split(Path.DirectorySeparatorChar).Any(s => s is "bin" or "obj"))
                     .Order(StringComparer.Ordinal))
        {
            if (!IsRunnableHost(project))
            {
                continue;
            }

            var directory = Path.GetDirectoryName(project)!;
            var segments = Path.GetRelativePath(servicesDirectory, directory).Split(Path.DirectorySeparatorChar);
            var isTool = segments.Length > 1 && segments[0] == "Tools";
            var name = NameOf(segments);
            var settings = Flatten(Path.Combine(directory, "appsettings.json"));
            var required = new SortedSet<string>(StringComparer.Ordinal);
            foreach (var (key, value) in settings)
            {
                if (key.StartsWith("ConnectionStrings:", StringComparison.Ordinal) || Loopback().IsMatch(value))
                {
                    required.Add(ToEnvironmentName(key));
                }
            }

            required.UnionWith(EveryHostKeys);
            var keysFile = Path.Combine(directory, "deploy.required-keys");
            if (File.Exists(keysFile))
            {
                required.UnionWith(File.ReadAllLines(keysFile)
                    .Select(l => l.Split('#')[0].Trim())
                    .Where(l => l.Length > 0)
                    .Select(ToEnvironmentName));
            }

            settings.TryGetValue("ConnectionStrings:Postgres", out var postgres);
            hosts.Add(new HostProject(
                name,
                Path.GetRelativePath(Path.GetDirectoryName(servicesDirectory)!, project).Replace(Path.DirectorySeparatorChar, '/'),
                isTool,
                postgres is not null,
                postgres is null ? null : DatabaseOf(postgres),
                [.. required]));
        }

        return hosts;
    }

    /// <summary>services/Executor → executor; services/Tools/Crm → tool-crm (the name in compose and Kubernetes).</summary>
    public static string NameOf(string[] segments)
    {
        var name = string.Join('-', segments.Select(s => s.ToLowerInvariant()));
        return name.StartsWith("tools-", StringComparison.Ordinal) ? "tool-" + name["tools-".Length..] : name;
    }

    public static string ToEnvironmentName(string key) => key.Replace(":", "__", StringComparison.Ordinal);

    /// <summary>The Database= part of an Npgsql connection string.</summary>
    public static string? DatabaseOf(string connectionString) =>
        connectionString.Split(';')
            .Select(p => p.Split('=', 2))
            .Where(p => p.Length == 2 && p[0].Trim().Equals("Database", StringComparison.OrdinalIgnoreCase))
            .Select(p => p[1].Trim())
            .FirstOrDefault();

    private static bool IsRunnableHost(string project)
    {
        var root = XDocument.Load(project).Root!;
        var sdk = (string?)root.Attribute("Sdk") ?? string.Empty;
        var outputType = root.Descendants("OutputType").Select(e => e.Value.Trim()).LastOrDefault();
        return sdk.Contains("Microsoft.NET.Sdk.Web", StringComparison.OrdinalIgnoreCase)
            || string.Equals(outputType, "Exe", StringComparison.OrdinalIgnoreCase);
    }

    private static Dictionary<string, string> Flatten(string appsettings)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (!File.Exists(appsettings))
        {
            return result;
        }

        var root = JsonNode.Parse(File.ReadAllText(appsettings), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        Walk(root, string.Empty, result);
        return result;
    }

    private static void Walk(JsonNode? node, string prefix, Dictionary<string, string> result)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (key, child) in o)
                {
                    Walk(child, prefix.Length == 0 ? key : $"{prefix}:{key}", result);
                }

                break;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++)
                {
                    Walk(a[i], $"{prefix}:{i}", result);
                }

                break;
            case JsonValue v:
                result[prefix] = v.ToString();
                break;
        }
    }

    [GeneratedRegex(@"(127\.0\.0\.1|localhost|\[::1\])", RegexOptions.IgnoreCase)]
    private static partial Regex Loopback();
}
