using System.Diagnostics;
using Agents.Deployment.Tests.Infrastructure;

namespace Agents.Deployment.Tests;

/// <summary>
/// The whole journey of adding a tool, in a scratch copy of the repository: infra/new-tool.sh creates it from
/// the template and wires it in; it builds with warnings as errors, its own test passes against the real
/// RabbitMQ and PostgreSQL, and every deployment-consistency rule (this very test assembly, run on the copy)
/// holds with it.
/// </summary>
[Trait("Category", "Infrastructure")]
public sealed class NewToolTemplateTests
{
    [Fact]
    public void A_tool_created_from_the_template_builds_passes_its_test_and_every_deployment_rule()
    {
        var scratch = Directory.CreateTempSubdirectory("agents-new-tool-").FullName;
        try
        {
            var files = Run("git", ["ls-files", "-co", "--exclude-standard", "-z"], Repository.Root, TimeSpan.FromMinutes(1));
            foreach (var file in files.Split('\0', StringSplitOptions.RemoveEmptyEntries).Where(f => File.Exists(Path.Combine(Repository.Root, f))))
            {
                var target = Path.Combine(scratch, file);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(Path.Combine(Repository.Root, file), target);
            }

            var created = Run("bash", ["infra/new-tool.sh", "weather"], scratch, TimeSpan.FromMinutes(5));

            Assert.Contains("\"weather.count-words\"", created, StringComparison.Ordinal);
            Assert.Contains("\"weather.read\"", created, StringComparison.Ordinal);
            Assert.Contains("\"tool-weather:services/Tools/Weather:", File.ReadAllText(Path.Combine(scratch, "dev.sh")), StringComparison.Ordinal);
            Assert.Contains("\"tool-weather\": \"http://127.0.0.1:", File.ReadAllText(Path.Combine(scratch, "services", "Gateway", "appsettings.json")), StringComparison.Ordinal);
            Assert.Contains("Gateway__ToolHosts__tool-weather: http://tool-weather:8080/", File.ReadAllText(Path.Combine(scratch, "docker-compose.yml")), StringComparison.Ordinal);
            Assert.Contains("name: Gateway__ToolHosts__tool-weather", File.ReadAllText(Path.Combine(scratch, "k8s", "base", "services", "gateway.yaml")), StringComparison.Ordinal);

            // Wiring it again changes nothing.
            var gatewaySettings = File.ReadAllText(Path.Combine(scratch, "services", "Gateway", "appsettings.json"));
            Run("bash", ["infra/add-tool.sh", "weather"], scratch, TimeSpan.FromMinutes(2));
            Assert.Equal(gatewaySettings, File.ReadAllText(Path.Combine(scratch, "services", "Gateway", "appsettings.json")));

            var tested = Run("dotnet", ["test", "tests/Agents.Tools.Weather.Tests", "-c", "Debug", "-v:q", "-nologo"], scratch, TimeSpan.FromMinutes(20));
            Assert.Contains("Passed!", tested, StringComparison.Ordinal);

            var bin = Path.Combine(scratch, "tests", "Agents.Deployment.Tests", "bin", "Debug", "net10.0");
            CopyDirectory(AppContext.BaseDirectory, bin);
            var checkedCopy = Run(
                "dotnet",
                ["test", Path.Combine(bin, "Agents.Deployment.Tests.dll"), "--filter", $"FullyQualifiedName!~{nameof(NewToolTemplateTests)}"],
                scratch,
                TimeSpan.FromMinutes(10));
            Assert.Contains("Passed!", checkedCopy, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    private static void CopyDirectory(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target, overwrite: true);
        }
    }

    private static string Run(string tool, string[] arguments, string directory, TimeSpan within)
    {
        var start = new ProcessStartInfo(tool)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // The new tool's projects have no packages.lock.json before their first restore, which writes it: a locked-mode
        // restore (CI's) would refuse them.
        start.Environment.Remove("AGENTS_LOCKED_RESTORE");

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{tool} did not start.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(within))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{tool} {string.Join(' ', arguments)} did not finish within {within}.");
        }

        Assert.True(process.ExitCode == 0, $"{tool} {string.Join(' ', arguments)} failed (exit {process.ExitCode}):\n{stdout.Result}\n{stderr.Result}");
        return stdout.Result;
    }
}
