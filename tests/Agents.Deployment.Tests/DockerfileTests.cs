using Agents.Deployment.Tests.Infrastructure;

namespace Agents.Deployment.Tests;

/// <summary>The image definitions, read as text (no image is built here: there is no container engine).</summary>
[Trait("Category", "Unit")]
public sealed class DockerfileTests
{
    private sealed record Instruction(string Keyword, string Arguments);

    private static List<Instruction> Parse(string path)
    {
        var instructions = new List<Instruction>();
        var pending = string.Empty;
        foreach (var raw in File.ReadAllLines(path))
        {
            var line = raw.Trim();
            if (pending.Length == 0 && (line.Length == 0 || line.StartsWith('#')))
            {
                continue;
            }

            if (line.EndsWith('\\'))
            {
                pending += line[..^1] + " ";
                continue;
            }

            var full = (pending + line).Trim();
            pending = string.Empty;
            var space = full.IndexOf(' ', StringComparison.Ordinal);
            instructions.Add(space < 0 ? new Instruction(full.ToUpperInvariant(), string.Empty) : new Instruction(full[..space].ToUpperInvariant(), full[(space + 1)..].Trim()));
        }

        return instructions;
    }

    public static TheoryData<string> Dockerfiles
    {
        get
        {
            var compose = ComposeChecks.Services(Rendered.Compose);
            var files = compose.Select(p => p.Value.Str("build", "dockerfile")).OfType<string>().Distinct().Order(StringComparer.Ordinal);
            return [.. files];
        }
    }

    [Theory]
    [MemberData(nameof(Dockerfiles))]
    public void Images_are_multi_stage_non_root_with_a_health_check_on_the_aspnet_runtime(string dockerfile)
    {
        var instructions = Parse(Repository.PathOf(dockerfile));
        var stages = instructions.Where(i => i.Keyword == "FROM").ToList();
        var final = instructions.Skip(instructions.FindLastIndex(i => i.Keyword == "FROM")).ToList();

        Assert.True(stages.Count >= 2, $"{dockerfile}: build and runtime must be separate stages (found {stages.Count} FROM).");
        Assert.Contains("/dotnet/sdk:", stages[0].Arguments, StringComparison.Ordinal);
        Assert.StartsWith("mcr.microsoft.com/dotnet/aspnet:", stages[^1].Arguments, StringComparison.Ordinal);

        var user = final.LastOrDefault(i => i.Keyword == "USER");
        Assert.True(user is not null, $"{dockerfile}: the runtime stage sets no USER (it would run as root).");
        Assert.DoesNotContain(user.Arguments.Split(':')[0], new[] { "root", "0" });

        Assert.Contains(final, i => i.Keyword == "EXPOSE" && i.Arguments.Split(' ').Contains("8080"));
        var healthcheck = final.SingleOrDefault(i => i.Keyword == "HEALTHCHECK");
        Assert.True(healthcheck is not null && !healthcheck.Arguments.StartsWith("NONE", StringComparison.OrdinalIgnoreCase), $"{dockerfile}: the runtime stage has no HEALTHCHECK.");
        Assert.Contains("/health/", healthcheck.Arguments, StringComparison.Ordinal);
        Assert.Contains(final, i => i.Keyword == "ENTRYPOINT" && i.Arguments.StartsWith('['));
        Assert.DoesNotContain(final, i => i.Keyword is "RUN" && i.Arguments.Contains("apt-get", StringComparison.Ordinal));
    }

    [Fact]
    public void The_build_context_leaves_out_build_outputs_tests_and_env_files()
    {
        var ignored = File.ReadAllLines(Repository.PathOf(".dockerignore")).Select(l => l.Trim()).ToHashSet();

        Assert.Superset(new HashSet<string> { "**/bin/", "**/obj/", ".git", "tests/", "**/*.env" }, ignored);
        Assert.DoesNotContain("shared/", ignored);
        Assert.DoesNotContain("services/", ignored);
    }
}
