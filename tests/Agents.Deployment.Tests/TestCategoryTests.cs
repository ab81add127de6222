using System.Text.RegularExpressions;
using Agents.Deployment.Tests.Infrastructure;

namespace Agents.Deployment.Tests;

/// <summary>
/// Every test class says what it needs, so that `dotnet test --filter Category=Unit` runs every test that needs no
/// running PostgreSQL, RabbitMQ or platform, and no test falls outside the three filters.
/// </summary>
[Trait("Category", "Unit")]
public sealed partial class TestCategoryTests
{
    private static readonly string[] Categories = ["Unit", "Infrastructure", "EndToEnd"];

    [Fact]
    public void Every_test_class_has_exactly_one_category()
    {
        var problems = new List<string>();
        var classes = 0;
        foreach (var file in Directory.EnumerateFiles(Repository.PathOf("tests"), "*.cs", SearchOption.AllDirectories))
        {
            var relative = Repository.Relative(file);
            if (relative.Contains("/bin/", StringComparison.Ordinal) || relative.Contains("/obj/", StringComparison.Ordinal) || relative.StartsWith("tests/Agents.Testing/", StringComparison.Ordinal))
            {
                continue;
            }

            var lines = File.ReadAllLines(file);
            var declarations = lines.Select((line, index) => (line, index)).Where(l => ClassDeclaration().IsMatch(l.line)).Select(l => l.index).ToList();
            for (var d = 0; d < declarations.Count; d++)
            {
                var start = declarations[d];
                var end = d + 1 < declarations.Count ? declarations[d + 1] : lines.Length;
                var body = string.Join('\n', lines[start..end]);
                if (!TestMethod().IsMatch(body) && !InheritedTests().IsMatch(lines[start]))
                {
                    continue;
                }

                classes++;
                var attributes = lines[..start].Reverse().TakeWhile(l => l.StartsWith('[') || l.StartsWith("///", StringComparison.Ordinal)).ToList();
                var categories = attributes.Select(l => CategoryTrait().Match(l)).Where(m => m.Success).Select(m => m.Groups["category"].Value).ToList();
                var name = ClassDeclaration().Match(lines[start]).Groups["name"].Value;
                if (categories.Count != 1 || !Categories.Contains(categories[0]))
                {
                    problems.Add($"{relative}: class {name} has {(categories.Count == 0 ? "no" : string.Join(", ", categories))} category (one of {string.Join(", ", Categories)})");
                }
                else if (relative.StartsWith("tests/Agents.EndToEnd.Tests/", StringComparison.Ordinal) != (categories[0] == "EndToEnd"))
                {
                    problems.Add($"{relative}: class {name} is {categories[0]}; EndToEnd is the category of exactly the end-to-end project's tests");
                }
            }
        }

        Assert.True(classes > 100, $"expected the repository's test classes, found {classes}");
        Problems.AssertNone(problems);
    }

    [GeneratedRegex(@"^(public|internal)\s+(sealed\s+|abstract\s+|static\s+)*(partial\s+)?class\s+(?<name>\w+)")]
    private static partial Regex ClassDeclaration();

    [GeneratedRegex(@"\[(Fact|Theory)\b")]
    private static partial Regex TestMethod();

    [GeneratedRegex(@":\s*Service(ApiDocument|Health)Tests<")]
    private static partial Regex InheritedTests();

    [GeneratedRegex("""^\[Trait\("Category", "(?<category>[^"]*)"\)\]""")]
    private static partial Regex CategoryTrait();
}
