using System.Collections.Concurrent;
using Agents.ToolGateway.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Agents.ToolGateway.Invocation;

/// <summary>
/// The registry's row of a tool, as every call needs it (side-effect class, schema, trust, timeout), kept in memory for
/// <see cref="ToolGatewayOptions.RegistryCacheTtl"/> so that a busy gateway does not read the same row for every call.
/// A tool that is not registered is never remembered (an announcement is seen at the next call). An announcement or an
/// operator's change handled by this instance forgets the row at once; one handled by another replica is seen here at the
/// latest after the time to live.
/// </summary>
internal sealed class ToolLookup(IServiceScopeFactory scopes, IOptions<ToolGatewayOptions> options, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, (RegisteredTool Tool, long LoadedAt)> _tools = new(StringComparer.Ordinal);

    public async Task<RegisteredTool?> FindAsync(string? name, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(name))
        {
            return null;
        }

        var ttl = options.Value.RegistryCacheTtl;
        if (ttl > TimeSpan.Zero && _tools.TryGetValue(name, out var cached) && time.GetElapsedTime(cached.LoadedAt) < ttl)
        {
            return cached.Tool;
        }

        var loadedAt = time.GetTimestamp();
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ToolGatewayDbContext>();
        var tool = await db.Tools.AsNoTracking().SingleOrDefaultAsync(t => t.Name == name, cancellationToken);
        if (tool is null)
        {
            _tools.TryRemove(name, out _);
        }
        else if (ttl > TimeSpan.Zero)
        {
            _tools[name] = (tool, loadedAt);
        }

        return tool;
    }

    /// <summary>Forgets <paramref name="name"/>'s row: its registration changed.</summary>
    public void Forget(string name) => _tools.TryRemove(name, out _);
}
