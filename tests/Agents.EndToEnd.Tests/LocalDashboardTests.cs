using System.Diagnostics;
using System.Net.Sockets;
using System.Reflection;
using System.Text.Json;
using Agents.Testing;
using Microsoft.Playwright;

namespace Agents.EndToEnd.Tests;

/// <summary>
/// The local trace view of <c>AGENTS_DASHBOARD=1 ./dev.sh up</c>: <c>infra/dashboard-local.sh</c> fetches and starts the
/// Aspire dashboard, a platform service started with <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> pointing at it sends it its spans,
/// and the dashboard serves them through its telemetry API and shows the trace's page in Chromium.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class LocalDashboardTests
{
    [Fact]
    public async Task The_dashboard_script_starts_a_trace_view_that_receives_a_service_s_spans_and_shows_its_trace()
    {
        var root = PlatformFixture.RepositoryRoot();
        var run = Directory.CreateTempSubdirectory("agents-e2e-dashboard-");
        var port = FreePortWithTwoAbove();
        var dashboard = new Uri($"http://127.0.0.1:{port}/");
        ServiceProcess? gateway = null;
        try
        {
            var started = await RunScriptAsync(root, run.FullName, port);
            Assert.True(started.ExitCode == 0, started.Output);
            Assert.Contains($"traces, logs and metrics: http://127.0.0.1:{port}", started.Output, StringComparison.Ordinal);

            // The gateway (no database, no broker needed to answer) as dev.sh starts it with the dashboard on.
            var configuration = typeof(PlatformFixture).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().First(a => a.Key == "BuildConfiguration").Value!;
            var dll = Path.Combine(root, "services", "Gateway", "bin", configuration, "net10.0", "Agents.Gateway.dll");
            var closed = TestInfrastructure.ClosedPort();
            var environment = new Dictionary<string, string>
            {
                ["ASPNETCORE_ENVIRONMENT"] = "Production",
                ["Identity__SigningKey"] = Convert.ToHexString(Guid.NewGuid().ToByteArray()) + Convert.ToHexString(Guid.NewGuid().ToByteArray()),
                ["OTEL_EXPORTER_OTLP_ENDPOINT"] = $"http://127.0.0.1:{port + 2}",
                ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
                ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
                ["Logging__LogLevel__Default"] = "Warning",
            };
            foreach (var cluster in new[] { "executor", "planner", "toolgateway", "memory", "governance" })
            {
                environment[$"ReverseProxy__Clusters__{cluster}__Destinations__{cluster}-1__Address"] = $"http://127.0.0.1:{closed}/";
            }

            gateway = new ServiceProcess(new ServiceDefinition("gateway", dll, TestInfrastructure.ClosedPort(), null), environment);
            gateway.Start();
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            await WaitAsync(async () => (await http.GetAsync(new Uri(gateway.BaseAddress, "health/live"))).IsSuccessStatusCode, TimeSpan.FromSeconds(60), "the gateway to start\n" + gateway.RecentOutput);

            // A request in a trace of the test's own: the gateway's span of it joins that trace.
            var traceId = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());
            using (var request = new HttpRequestMessage(HttpMethod.Get, new Uri(gateway.BaseAddress, "api/tasks")))
            {
                request.Headers.Add("traceparent", $"00-{traceId}-{Convert.ToHexStringLower(Guid.NewGuid().ToByteArray())[..16]}-01");
                using var answer = await http.SendAsync(request);
                Assert.Equal(System.Net.HttpStatusCode.Unauthorized, answer.StatusCode);
            }

            var spans = new List<(string Service, string Name)>();
            await WaitAsync(async () =>
            {
                spans = await TraceSpansAsync(http, dashboard, traceId);
                return spans.Exists(s => s.Service == "Agents.Gateway");
            }, TimeSpan.FromSeconds(60), $"the dashboard to list the gateway's span of trace {traceId}");
            Assert.Contains(spans, s => s.Service == "Agents.Gateway" && s.Name.StartsWith("GET", StringComparison.Ordinal));

            // The trace's page (the console's trace link points here) shows the service in a browser.
            await using var browser = await ConsoleBrowser.StartAsync(dashboard);
            var page = await browser.NewPageAsync();
            await page.GotoAsync(new Uri(dashboard, $"traces/detail/{traceId}").ToString());
            await Assertions.Expect(page.GetByText("Agents.Gateway").First).ToBeVisibleAsync();
            await ConsoleBrowser.ScreenshotAsync(page, "dashboard-trace");
        }
        finally
        {
            if (gateway is not null)
            {
                await gateway.DisposeAsync();
            }

            var pidFile = Path.Combine(run.FullName, "pids", "dashboard.pid");
            if (File.Exists(pidFile) && int.TryParse(await File.ReadAllTextAsync(pidFile), out var pid))
            {
                try
                {
                    using var process = Process.GetProcessById(pid);
                    process.Kill(entireProcessTree: true);
                    await process.WaitForExitAsync();
                }
                catch (ArgumentException)
                {
                    // Already gone.
                }
            }

            run.Delete(recursive: true);
        }
    }

    /// <summary>The services and span names of one trace, from the dashboard's telemetry API (OTLP JSON).</summary>
    private static async Task<List<(string Service, string Name)>> TraceSpansAsync(HttpClient http, Uri dashboard, string traceId)
    {
        using var response = await http.GetAsync(new Uri(dashboard, $"api/telemetry/traces/{traceId}"));
        if (!response.IsSuccessStatusCode)
        {
            return [];
        }

        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var spans = new List<(string, string)>();
        foreach (var resource in document.RootElement.GetProperty("data").GetProperty("resourceSpans").EnumerateArray())
        {
            var service = resource.GetProperty("resource").GetProperty("attributes").EnumerateArray()
                .Where(a => a.GetProperty("key").GetString() == "service.name")
                .Select(a => a.GetProperty("value").GetProperty("stringValue").GetString())
                .FirstOrDefault() ?? string.Empty;
            foreach (var scope in resource.GetProperty("scopeSpans").EnumerateArray())
            {
                spans.AddRange(scope.GetProperty("spans").EnumerateArray().Select(s => (service, s.GetProperty("name").GetString() ?? string.Empty)));
            }
        }

        return spans;
    }

    private static async Task<(int ExitCode, string Output)> RunScriptAsync(string root, string run, int port)
    {
        var info = new ProcessStartInfo("bash") { WorkingDirectory = root, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(root, "infra", "dashboard-local.sh"));
        info.Environment["AGENTS_DASHBOARD_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        info.Environment["AGENTS_DASHBOARD_RUN"] = run;
        using var process = Process.Start(info)!;
        // The dashboard keeps running in the background with its own output file; the script's own output ends with it.
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output + await error);
    }

    private static int FreePortWithTwoAbove()
    {
        while (true)
        {
            var port = TestInfrastructure.ClosedPort();
            if (IsFree(port + 1) && IsFree(port + 2))
            {
                return port;
            }
        }
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(System.Net.IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static Task WaitAsync(Func<Task<bool>> done, TimeSpan within, string what) =>
        Poll.UntilAsync(
            async () =>
            {
                try
                {
                    return await done();
                }
                catch (HttpRequestException)
                {
                    // Not listening yet.
                    return false;
                }
            },
            within,
            what,
            TimeSpan.FromMilliseconds(250));
}
