using System.Diagnostics;
using System.Text;
using Agents.Testing;

namespace Agents.EndToEnd.Tests;

/// <summary>One service running as a real operating-system process, from its build output.</summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly ServiceDefinition _definition;
    private readonly IReadOnlyDictionary<string, string> _environment;
    private readonly StringBuilder _output = new();
    private Process? _process;

    public ServiceProcess(ServiceDefinition definition, IReadOnlyDictionary<string, string> environment)
    {
        _definition = definition;
        _environment = environment;
    }

    public string Name => _definition.Name;

    public Uri BaseAddress => new($"http://127.0.0.1:{_definition.Port}/");

    public string RecentOutput
    {
        get
        {
            lock (_output)
            {
                return _output.Length > 6000 ? _output.ToString(_output.Length - 6000, 6000) : _output.ToString();
            }
        }
    }

    /// <summary>Runs the service's <c>migrate</c> command to completion.</summary>
    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        using var process = Start(["migrate"]);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Name} migrate exited with {process.ExitCode}:\n{RecentOutput}");
        }
    }

    public void Start() => _process = Start(["--urls", BaseAddress.ToString().TrimEnd('/')]);

    /// <summary>Kills the process at once (SIGKILL): no graceful shutdown, as in a crash.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
    }

    public async Task WaitUntilReadyAsync(TimeSpan within)
    {
        using var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        var last = "no answer";
        await Poll.UntilAsync(
            async () =>
            {
                if (_process is { HasExited: true })
                {
                    throw new InvalidOperationException($"{Name} exited with {_process.ExitCode}:\n{RecentOutput}");
                }

                try
                {
                    using var response = await client.GetAsync(new Uri("health/ready", UriKind.Relative));
                    if (response.IsSuccessStatusCode)
                    {
                        return true;
                    }

                    last = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
                }
                catch (HttpRequestException ex)
                {
                    last = ex.Message;
                }
                catch (TaskCanceledException)
                {
                    last = "timed out";
                }

                return false;
            },
            () => $"{Name} to be ready (last answer: {last})\n{RecentOutput}",
            within,
            TimeSpan.FromMilliseconds(250));
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process?.Dispose();
    }

    private Process Start(IEnumerable<string> arguments)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Path.GetDirectoryName(_definition.DllPath)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(_definition.DllPath);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in _environment)
        {
            info.Environment[key] = value;
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
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
            if (_output.Length > 200_000)
            {
                _output.Remove(0, 100_000);
            }
        }
    }
}

/// <summary>Where a service's build output is and which port it gets in this run.</summary>
public sealed record ServiceDefinition(string Name, string DllPath, int Port, string? Database);
