using System.Diagnostics;

namespace Agents.Testing;

/// <summary>
/// The real MCP servers from npm that tests run, installed at their pinned versions by the project's
/// own script (<c>infra/mcp-servers.sh</c>, idempotent) the first time a test asks for them.
/// </summary>
public static class McpServers
{
    private static readonly Lazy<string> Bin = new(Install, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The folder with the servers' executables (<c>mcp-server-everything</c>, <c>mcp-server-filesystem</c>).</summary>
    public static string BinDirectory => Bin.Value;

    /// <summary>The install folder itself (its <c>node_modules</c> also holds <c>@modelcontextprotocol/sdk</c>).</summary>
    public static string InstallDirectory => Path.GetFullPath(Path.Combine(BinDirectory, "..", ".."));

    /// <summary>The path of the executable <paramref name="name"/>.</summary>
    public static string Executable(string name) => Path.Combine(BinDirectory, name);

    /// <summary>The repository's root folder (the one holding <c>Agents.sln</c>).</summary>
    public static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Agents.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("Agents.sln not found above " + AppContext.BaseDirectory);
    }

    private static string Install()
    {
        var script = Path.Combine(RepositoryRoot(), "infra", "mcp-servers.sh");
        using var process = Process.Start(new ProcessStartInfo("bash", [script])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        }) ?? throw new InvalidOperationException("bash could not be started.");
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{script} failed ({process.ExitCode}): {error.Result}");
        }

        var bin = output.Trim().Split('\n').Last();
        return Directory.Exists(bin) ? bin : throw new InvalidOperationException($"{script} printed '{bin}', which is not a folder.");
    }
}
