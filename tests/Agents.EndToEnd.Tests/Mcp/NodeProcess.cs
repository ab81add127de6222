using System.Diagnostics;
using System.Text;

namespace Agents.EndToEnd.Tests.Mcp;

/// <summary>Runs the Node.js scripts of this folder (and the npm packages infra/mcp-servers.sh installs) as child processes.</summary>
internal static class NodeProcess
{
    public sealed record Run(int ExitCode, string Out, string Error)
    {
        public override string ToString() => $"exit {ExitCode}\n--- out\n{Out}\n--- error\n{Error}";
    }

    /// <summary>The path of a script of this folder, as copied to the test output.</summary>
    public static string Script(string name) => Path.Combine(AppContext.BaseDirectory, "Mcp", name);

    public static async Task<Run> RunAsync(TimeSpan timeout, params string[] args)
    {
        using var process = Process.Start(StartInfo(args)) ?? throw new InvalidOperationException("node did not start.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"node {string.Join(' ', args)} did not end within {timeout}:\n{await output}\n{await error}");
        }

        return new Run(process.ExitCode, await output, await error);
    }

    /// <summary>Starts a long-running script and waits for the first line it prints.</summary>
    public static async Task<(Process Process, string FirstLine)> StartAsync(params string[] args)
    {
        var process = Process.Start(StartInfo(args)) ?? throw new InvalidOperationException("node did not start.");
        var error = new StringBuilder();
        process.ErrorDataReceived += (_, e) => { lock (error) { error.AppendLine(e.Data); } };
        process.BeginErrorReadLine();
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var line = await process.StandardOutput.ReadLineAsync(cancel.Token);
        if (string.IsNullOrEmpty(line))
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
            lock (error)
            {
                throw new InvalidOperationException($"node {string.Join(' ', args)} printed nothing: {error}");
            }
        }

        return (process, line);
    }

    private static ProcessStartInfo StartInfo(string[] args)
    {
        var start = new ProcessStartInfo("node")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        return start;
    }
}
