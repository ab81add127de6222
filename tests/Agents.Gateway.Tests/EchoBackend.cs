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
        string[][] keys =
        [
            ["46d0a5451ee3765515225772afa4dbcac7734012d79c544a86ec27787b701a4e", "demo", "alice", "agent-user"],
            ["853903ce28b9b2127d0ffa55705a3ca1f3dbb08addaa285f650d947506e64f01", "acme", "dave", "agent-user"],
        ];
        for (var i = 0; i < keys.Length; i++)
        {
            settings[$"Gateway:ApiKeys:{i}:KeyHash"] = keys[i][0];
            settings[$"Gateway:ApiKeys:{i}:Tenant"] = keys[i][1];
            settings[$"Gateway:ApiKeys:{i}:User"] = keys[i][2];
            settings[$"Gateway:ApiKeys:{i}:Roles:0"] = keys[i][3];
        }

        return settings;
    }
}
