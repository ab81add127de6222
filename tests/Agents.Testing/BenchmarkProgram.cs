using System.Diagnostics;
using System.Reflection;

namespace Agents.Testing;

/// <summary>
/// A benchmark program of <c>benchmarks/</c> run as its own process from its build output (the configuration the
/// tests were built with), so that a test can run its smoke mode exactly as a person would.
/// </summary>
public static class BenchmarkProgram
{
    /// <summary>What the program printed and how it ended.</summary>
    public sealed record Run(int ExitCode, string Output, string Error)
    {
        public override string ToString() => $"exit {ExitCode}\n{Output}\n{Error}";
    }

    /// <summary>
    /// Runs <c>benchmarks/{project}</c> with <paramref name="arguments"/> and the extra <paramref name="environment"/>;
    /// killed (and the test failed) when it has not ended within <paramref name="within"/>.
    /// </summary>
    public static async Task<Run> RunAsync(string project, IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment, TimeSpan within)
    {
        var configuration = typeof(BenchmarkProgram).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var dll = Path.Combine(McpServers.RepositoryRoot(), "benchmarks", project, "bin", configuration, "net10.0", project + ".dll");
        if (!File.Exists(dll))
        {
            throw new InvalidOperationException($"{dll} is missing: build the solution ({configuration}) first.");
        }

        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Path.GetDirectoryName(dll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(dll);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{project} did not start.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(within);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{project} {string.Join(' ', arguments)} did not end within {within}: {await output}{await error}");
        }

        return new Run(process.ExitCode, await output, await error);
    }
}
