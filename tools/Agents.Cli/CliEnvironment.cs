namespace Agents.Cli;

/// <summary>What the CLI reads and writes outside itself; tests give their own.</summary>
/// <param name="Out">Where results go.</param>
/// <param name="Error">Where problems go.</param>
/// <param name="Variable">Reads an environment variable.</param>
/// <param name="ProfilePath">The profile file (<c>AGENTS_CONFIG</c>, else <c>~/.config/agents/profiles.json</c>).</param>
/// <param name="Handler">The HTTP handler to the gateway (null: a new socket handler).</param>
/// <param name="Width">Columns of the output: the terminal's, or wide enough that a pipe or file gets whole lines.</param>
internal sealed record CliEnvironment(TextWriter Out, TextWriter Error, Func<string, string?> Variable, string ProfilePath, HttpMessageHandler? Handler = null, int Width = CliEnvironment.UnlimitedWidth)
{
    public const int UnlimitedWidth = 4096;

    public static CliEnvironment FromProcess() => new(
        Console.Out,
        Console.Error,
        Environment.GetEnvironmentVariable,
        Environment.GetEnvironmentVariable("AGENTS_CONFIG")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config", "agents", "profiles.json"),
        Width: Console.IsOutputRedirected ? UnlimitedWidth : Math.Max(Console.WindowWidth, 80));
}

/// <summary>The CLI's exit codes (README: "CLI").</summary>
internal static class ExitCodes
{
    /// <summary>Done as asked.</summary>
    public const int Success = 0;

    /// <summary>The request worked but the answer is bad news: the task did not complete, the audit chain is broken.</summary>
    public const int Unsuccessful = 1;

    /// <summary>The command line is wrong or the gateway URL or key is missing.</summary>
    public const int Usage = 2;

    /// <summary>The platform refused the request (4xx: not allowed, not found, conflict, precondition failed, invalid).</summary>
    public const int Refused = 3;

    /// <summary>The platform could not be reached or failed (5xx, network, timeout).</summary>
    public const int Unavailable = 4;
}

/// <summary>A failure that ends the command with an exit code and a message for a person.</summary>
internal sealed class CliException(int exitCode, string message) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
