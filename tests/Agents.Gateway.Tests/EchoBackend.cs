using Agents.ServiceDefaults.Identity;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Agents.Gateway.Tests;

/// <summary>
/// A real HTTP server on loopback standing in for a backend service: it verifies the gateway's signed
/// principal with the same code every service uses, and echoes what it received.
/// </summary>
internal static class EchoBackend
{
    public const string SigningKey = "gateway-tests-signing-key-0123456789abcdef";

    public static async Task<WebApplication> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration["Identity:SigningKey"] = SigningKey;
        builder.Services.AddProblemDetails();
        builder.AddPrincipalSigning();
        var app = builder.Build();
        app.MapGet("/health/live", () => Results.Ok());
        app.Map("/api/{**rest}", (HttpContext context) =>
        {
            var principal = context.GetPrincipal();
            return Results.Ok(new
            {
                tenant = principal.TenantId,
                user = principal.UserId,
                roles = principal.Roles,
                apiKeyForwarded = context.Request.Headers.ContainsKey("X-Api-Key"),
                authorizationForwarded = context.Request.Headers.ContainsKey("Authorization"),
                spoofed = context.Request.Headers["X-Agents-Spoofed"].ToString(),
            });
        }).RequireAgentPrincipal();
        await app.StartAsync();
        return app;
    }

    private static readonly string[] Clusters = ["executor", "planner", "toolgateway", "memory", "governance"];

    public static Dictionary<string, string?> Settings(WebApplication backend)
    {
        var url = backend.Urls.First() + "/";
        var settings = Clusters.ToDictionary(c => $"ReverseProxy:Clusters:{c}:Destinations:{c}-1:Address", string? (_) => url);
        settings["Identity:SigningKey"] = SigningKey;
        return settings;
    }
}
