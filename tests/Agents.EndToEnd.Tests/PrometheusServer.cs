using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Agents.Testing;

namespace Agents.EndToEnd.Tests;

/// <summary>
/// A real Prometheus (Debian's <c>prometheus</c>, which <c>infra/validate-deploy.sh</c> installs before the tests) run by a
/// test: it scrapes the given services' <c>/metrics</c> every second, evaluates the platform's alert rules, keeps its data
/// in a folder of its own and answers PromQL over its HTTP API on a port of its own (127.0.0.1). Killed on dispose.
/// </summary>
internal sealed class PrometheusServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly DirectoryInfo _folder;
    private readonly HttpClient _http;
    private readonly StringBuilder _output = new();

    private PrometheusServer(Process process, DirectoryInfo folder, Uri address)
    {
        _process = process;
        _folder = folder;
        _http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(10) };
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public Uri Address => _http.BaseAddress!;

    /// <summary>What the server printed last (for failure messages).</summary>
    public string RecentOutput
    {
        get
        {
            lock (_output)
            {
                var text = _output.ToString();
                return text.Length > 4000 ? text[^4000..] : text;
            }
        }
    }

    /// <summary>Starts Prometheus scraping <paramref name="targets"/> (job = service name) with <paramref name="ruleFile"/> loaded, and waits until it is ready.</summary>
    public static async Task<PrometheusServer> StartAsync(IEnumerable<(string Service, Uri Address)> targets, string ruleFile)
    {
        var folder = Directory.CreateTempSubdirectory("agents-e2e-prometheus-");
        var config = new StringBuilder();
        config.AppendLine("global:");
        config.AppendLine("  scrape_interval: 1s");
        config.AppendLine("  scrape_timeout: 1s");
        config.AppendLine("  evaluation_interval: 1s");
        config.AppendLine("rule_files:");
        config.AppendLine(CultureInfo.InvariantCulture, $"  - {ruleFile}");
        config.AppendLine("scrape_configs:");
        foreach (var (service, address) in targets)
        {
            config.AppendLine(CultureInfo.InvariantCulture, $"  - job_name: {service}");
            config.AppendLine("    static_configs:");
            config.AppendLine(CultureInfo.InvariantCulture, $"      - targets: [\"{address.Authority}\"]");
        }

        var configFile = Path.Combine(folder.FullName, "prometheus.yml");
        await File.WriteAllTextAsync(configFile, config.ToString());
        var port = TestInfrastructure.ClosedPort();
        var start = new ProcessStartInfo("prometheus")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[]
                 {
                     $"--config.file={configFile}", $"--storage.tsdb.path={Path.Combine(folder.FullName, "data")}",
                     $"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
                 })
        {
            start.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("prometheus did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            folder.Delete(recursive: true);
            throw new InvalidOperationException($"'prometheus' is not installed ({e.Message}). Run `bash infra/install-prometheus.sh` as root (./dev.sh test does).", e);
        }

        var server = new PrometheusServer(process, folder, new Uri($"http://127.0.0.1:{port}/"));
        try
        {
            await Poll.UntilAsync(
                async () => process.HasExited || await server.IsReadyAsync(),
                () => $"Prometheus to become ready: {server.RecentOutput}",
                TimeSpan.FromSeconds(60),
                TimeSpan.FromMilliseconds(200));
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }

        if (!process.HasExited)
        {
            return server;
        }

        var output = server.RecentOutput;
        await server.DisposeAsync();
        throw new InvalidOperationException($"Prometheus exited before it became ready: {output}");
    }

    private async Task<bool> IsReadyAsync()
    {
        try
        {
            using var ready = await _http.GetAsync(new Uri("-/ready", UriKind.Relative));
            return ready.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            // Not listening yet.
            return false;
        }
    }

    /// <summary>The samples of an instant PromQL query: each series' labels and value.</summary>
    public async Task<IReadOnlyList<(IReadOnlyDictionary<string, string> Labels, double Value)>> QueryAsync(string promql)
    {
        using var response = await _http.GetAsync(new Uri("api/v1/query?query=" + Uri.EscapeDataString(promql), UriKind.Relative));
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"PromQL '{promql}' answered HTTP {(int)response.StatusCode}: {body}");
        }

        using var document = JsonDocument.Parse(body);
        var samples = new List<(IReadOnlyDictionary<string, string>, double)>();
        foreach (var series in document.RootElement.GetProperty("data").GetProperty("result").EnumerateArray())
        {
            var labels = series.GetProperty("metric").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? string.Empty);
            var value = double.Parse(series.GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture);
            samples.Add((labels, value));
        }

        return samples;
    }

    /// <summary>The value of a query that yields one series (a <c>sum(...)</c>); 0 when it yields none (no such series yet).</summary>
    public async Task<double> ValueAsync(string promql)
    {
        var samples = await QueryAsync(promql);
        return samples.Count switch
        {
            0 => 0,
            1 => samples[0].Value,
            _ => throw new InvalidOperationException($"PromQL '{promql}' yielded {samples.Count} series; expected one."),
        };
    }

    /// <summary>Queries every 500 ms until <paramref name="done"/> holds for the value, and returns that value; fails with the last one after <paramref name="within"/>.</summary>
    public async Task<double> WaitForAsync(string promql, Func<double, bool> done, TimeSpan within, string what)
    {
        var value = double.NaN;
        await Poll.UntilAsync(
            async () => done(value = await ValueAsync(promql)),
            () => $"{what} ('{promql}' is still {value.ToString(CultureInfo.InvariantCulture)})",
            within,
            TimeSpan.FromMilliseconds(500));
        return value;
    }

    /// <summary>The rules Prometheus loaded: name and health ("ok", "unknown" before its first evaluation, "err") with the last error.</summary>
    public async Task<IReadOnlyList<(string Name, string Health, string? Error)>> RulesAsync()
    {
        using var document = JsonDocument.Parse(await _http.GetStringAsync(new Uri("api/v1/rules", UriKind.Relative)));
        return document.RootElement.GetProperty("data").GetProperty("groups").EnumerateArray()
            .SelectMany(g => g.GetProperty("rules").EnumerateArray())
            .Select(r => (
                r.GetProperty("name").GetString()!,
                r.GetProperty("health").GetString()!,
                r.TryGetProperty("lastError", out var error) ? error.GetString() : null))
            .ToList();
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        _process.Dispose();
        try
        {
            _folder.Delete(recursive: true);
        }
        catch (IOException)
        {
            // A file still being closed: the temporary folder is left behind.
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }
}
