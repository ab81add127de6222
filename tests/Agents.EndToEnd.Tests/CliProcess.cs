using System.Diagnostics;
using System.Reflection;

namespace Agents.EndToEnd.Tests;

/// <summary>Runs the built <c>agents</c> CLI as its own process against the platform, with the key in the environment.</summary>
internal static class CliProcess
{
    public sealed record Run(int ExitCode, string Out, string Error)
    {
        public override string ToString() => $"exit {ExitCode}\n--- out\n{Out}\n--- error\n{Error}";
    }

    public static async Task<Run> RunAsync(Uri gateway, string apiKey, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Executable());
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["AGENTS_URL"] = gateway.ToString();
        start.Environment["AGENTS_API_KEY"] = apiKey;
        start.Environment["AGENTS_CONFIG"] = Path.Combine(Path.GetTempPath(), "agents-e2e-no-profiles.json");
        using var process = Process.Start(start) ?? throw new InvalidOperationException("The CLI did not start.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"agents {string.Join(' ', args)} did not end within 3 minutes: {await output}{await error}");
        }

        return new Run(process.ExitCode, await output, await error);
    }

    private static string Executable()
    {
        var configuration = typeof(CliProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().First(a => a.Key == "BuildConfiguration").Value!;
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Agents.sln")))
        {
            directory = directory.Parent;
        }

        var dll = Path.Combine(directory?.FullName ?? throw new InvalidOperationException("No Agents.sln above the test output."), "tools", "Agents.Cli", "bin", configuration, "net10.0", "agents.dll");
        return File.Exists(dll) ? dll : throw new InvalidOperationException($"{dll} is missing: build the solution first.");
    }
}
