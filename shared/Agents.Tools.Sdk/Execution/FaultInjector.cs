using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Agents.Tools.Sdk.Hosting;
using Microsoft.Extensions.Options;

namespace Agents.Tools.Sdk.Execution;

/// <summary>Applies <see cref="ToolHostOptions.FaultInjection"/> (a testing aid): counts executions per tool in this process.</summary>
internal sealed class FaultInjector(IOptionsMonitor<ToolHostOptions> options)
{
    private readonly ConcurrentDictionary<string, StrongBox<int>> counters = new(StringComparer.Ordinal);

    /// <summary>The injected failure message for the next execution of <paramref name="tool"/>, or null to run normally.</summary>
    public string? NextFailure(string tool)
    {
        if (!options.CurrentValue.FaultInjection.TryGetValue(tool, out var settings))
        {
            return null;
        }

        if (settings.AlwaysFail)
        {
            return $"Injected transient failure of '{tool}' (Tools:FaultInjection:{tool}:AlwaysFail).";
        }

        if (settings.FailFirst <= 0)
        {
            return null;
        }

        var counter = counters.GetOrAdd(tool, _ => new StrongBox<int>());
        var attempt = Interlocked.Increment(ref counter.Value);
        return attempt <= settings.FailFirst
            ? $"Injected transient failure {attempt} of {settings.FailFirst} of '{tool}' (Tools:FaultInjection:{tool}:FailFirst)."
            : null;
    }

    /// <summary>The injected delay before each execution of <paramref name="tool"/>.</summary>
    public TimeSpan DelayFor(string tool) =>
        options.CurrentValue.FaultInjection.TryGetValue(tool, out var settings) ? settings.Delay : TimeSpan.Zero;
}
