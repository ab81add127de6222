using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using Agents.Contracts;
using Agents.ServiceDefaults.Messaging;
using MassTransit;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Agents.ServiceDefaults.Identity;

/// <summary>How long a service keeps governance's answer about a tenant's roles (section <c>TenantAccess</c>).</summary>
public sealed class TenantAccessOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "TenantAccess";

    /// <summary>How long an answer is used before governance is asked again: a policy change applies within this time.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00", ErrorMessage = "TenantAccess:CacheDuration must be between {1} and {2}.")]
    public TimeSpan CacheDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long one request to governance waits for its answer.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00", ErrorMessage = "TenantAccess:Timeout must be between {1} and {2}.")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// Who holds which power in a tenant (<see cref="TenantAccess"/>), asked of governance with <see cref="GetTenantAccess"/>
/// and kept per tenant for <see cref="TenantAccessOptions.CacheDuration"/>. Governance owns the policy; the services that
/// decide what a caller may see only read these parts of it. No answer is ever guessed: when governance cannot be asked,
/// <see cref="GetAsync"/> returns null and the caller refuses (fails closed).
/// </summary>
public sealed class TenantAccessCache(IBus bus, IOptions<TenantAccessOptions> options, TimeProvider time, ILogger<TenantAccessCache> logger)
{
    private readonly ConcurrentDictionary<string, (TenantAccess Access, DateTimeOffset ReadAt)> answers = new(StringComparer.Ordinal);

    /// <summary>The tenant's access rules, or null when governance did not answer (within <paramref name="timeout"/>, or <see cref="TenantAccessOptions.Timeout"/>).</summary>
    public async Task<TenantAccess?> GetAsync(string tenantId, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        var now = time.GetUtcNow();
        if (answers.TryGetValue(tenantId, out var known) && now - known.ReadAt < options.Value.CacheDuration)
        {
            return known.Access;
        }

        var client = bus.CreateRequestClient<GetTenantAccess>();
        var wait = RequestTimeout.After(ms: (int)(timeout ?? options.Value.Timeout).TotalMilliseconds);
        var answer = await client.AskAsync<GetTenantAccess, TenantAccess>(new GetTenantAccess(tenantId), wait, cancellationToken);
        if (answer.Message is null)
        {
            logger.LogWarning("Governance did not tell the access rules of tenant {Tenant} ({Failure}: {Error}).", tenantId, answer.Failure, answer.Error);
            return null;
        }

        answers[tenantId] = (answer.Message, now);
        return answer.Message;
    }

    /// <summary>503 with problem details: what the caller may see could not be decided now.</summary>
    public static IResult Unavailable(string what) => Results.Problem(
        statusCode: StatusCodes.Status503ServiceUnavailable,
        title: "Access could not be checked",
        detail: $"Governance did not answer who may see {what}; nothing was changed. Try again shortly.",
        type: ProblemTypes.Unavailable);
}

/// <summary>Registration of <see cref="TenantAccessCache"/>.</summary>
public static class TenantAccessExtensions
{
    /// <summary>Registers the validated <see cref="TenantAccessOptions"/> and the <see cref="TenantAccessCache"/> (the bus must be added too).</summary>
    public static IHostApplicationBuilder AddTenantAccess(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<TenantAccessOptions>()
            .BindConfiguration(TenantAccessOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton<TenantAccessCache>();
        return builder;
    }
}
