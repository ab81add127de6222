using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Agents.Deployment.Tests.Infrastructure;

/// <summary>
/// The deployment files as the tools see them: `docker-compose config` (Debian's docker-compose 1.29) with no
/// options, as `docker compose up` sees them out of the box (the repository's .env), and `kubectl kustomize` of
/// each overlay, run once per test run.
/// </summary>
internal static class Rendered
{
    public static readonly string[] Overlays = ["k8s/base", "k8s/overlays/dev", "k8s/overlays/prod"];

    private static readonly Lazy<JsonObject> ComposeDocument = new(() =>
        Yaml.ParseDocument(Run("docker-compose", ["config"], "docker-compose config")));

    private static readonly Dictionary<string, Lazy<KubernetesObjects>> KustomizeOutputs = Overlays.ToDictionary(
        o => o,
        o => new Lazy<KubernetesObjects>(() => new KubernetesObjects(Yaml.ParseDocuments(Run("kubectl", ["kustomize", o], $"kubectl kustomize {o}")))));

    public static JsonObject Compose => ComposeDocument.Value;

    public static KubernetesObjects Kustomize(string overlay) => KustomizeOutputs[overlay].Value;

    public static string Run(string tool, string[] arguments, string what)
    {
        var start = new ProcessStartInfo(tool)
        {
            WorkingDirectory = Repository.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException($"{tool} did not start.");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException(
                $"'{tool}' is not installed ({e.Message}). Run `bash infra/validate-deploy.sh` as root: it installs Debian's docker-compose " +
                "(`./dev.sh test` runs it before the tests). kubectl must be on the PATH too.", e);
        }

        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
            {
                process.Kill(entireProcessTree: true);
                throw new InvalidOperationException($"{what} did not finish within 60 s.");
            }

            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"{what} failed (exit {process.ExitCode}): {stderr.Result}");
            }

            return stdout.Result;
        }
    }
}

/// <summary>The objects of one rendered kustomization.</summary>
internal sealed class KubernetesObjects(List<JsonObject> objects)
{
    public IReadOnlyList<JsonObject> All { get; } = objects;

    public IEnumerable<JsonObject> OfKind(string kind) => All.Where(o => o.Str("kind") == kind);

    public JsonObject? Find(string kind, string name) => OfKind(kind).FirstOrDefault(o => o.Str("metadata", "name") == name);
}
