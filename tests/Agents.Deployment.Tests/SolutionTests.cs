using System.Text.RegularExpressions;
using Agents.Deployment.Tests.Infrastructure;

namespace Agents.Deployment.Tests;

/// <summary>Agents.sln is the one solution, and it lists every project of the repository.</summary>
[Trait("Category", "Unit")]
public sealed partial class SolutionTests
{
    private static readonly string[] NotProjectsOfTheRepository = ["templates/", "bin/", "obj/", "."];

    [Fact]
    public void Agents_sln_is_the_only_solution_at_the_root()
    {
        var solutions = Directory.EnumerateFiles(Repository.Root)
            .Select(Path.GetFileName)
            .Where(f => f!.EndsWith(".sln", StringComparison.Ordinal) || f.EndsWith(".slnx", StringComparison.Ordinal));

        // Two solutions side by side make `dotnet build` without an argument fail (MSB1011) and drift apart.
        Assert.Equal(["Agents.sln"], solutions);
    }

    [Fact]
    public void Every_project_of_the_repository_is_in_the_solution_and_every_listed_project_exists()
    {
        var listed = ProjectLine().Matches(File.ReadAllText(Repository.PathOf("Agents.sln")))
            .Select(m => m.Groups["path"].Value.Replace('\\', '/'))
            .ToHashSet(StringComparer.Ordinal);
        var present = Directory.EnumerateFiles(Repository.Root, "*.csproj", SearchOption.AllDirectories)
            .Select(Repository.Relative)
            .Where(p => !p.Split('/').SkipLast(1).Any(segment => NotProjectsOfTheRepository.Any(n => n.EndsWith('/') ? segment == n.TrimEnd('/') : segment.StartsWith(n, StringComparison.Ordinal))))
            .ToHashSet(StringComparer.Ordinal);

        Assert.True(present.Count > 30, $"expected the repository's projects, found {present.Count}");
        Assert.Empty(present.Except(listed).Order(StringComparer.Ordinal));
        Assert.Empty(listed.Except(present).Order(StringComparer.Ordinal));
    }

    [GeneratedRegex("""^Project\("\{[0-9A-F-]+\}"\) = "[^"]+", "(?<path>[^"]+\.csproj)", """, RegexOptions.Multiline)]
    private static partial Regex ProjectLine();
}
