using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Agents.Testing;

namespace Agents.Gateway.Tests;

/// <summary>The web console's static files and the caller endpoint it signs in with.</summary>
[Trait("Category", "Infrastructure")]
public sealed partial class ConsoleTests
{
    private static readonly string[] Files =
        ["", "index.html", "app.js", "api.js", "ui.js", "taint.js", "console.css", "pages/tasks.js", "pages/task.js", "pages/approvals.js",
         "pages/dead-letters.js", "pages/tools.js", "pages/usage.js", "pages/policy.js", "pages/audit.js"];

    [Fact]
    public async Task The_console_is_served_from_the_gateway_without_credentials_with_a_same_origin_content_policy()
    {
        await using var backend = await EchoBackend.StartAsync();
        await using var factory = new ServiceFactory<Program>(EchoBackend.Settings(backend));
        using var client = factory.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false });

        using var bare = await client.GetAsync(new Uri("/console", UriKind.Relative));
        Assert.Equal(HttpStatusCode.Redirect, bare.StatusCode);
        Assert.Equal("/console/", bare.Headers.Location!.OriginalString);

        foreach (var file in Files)
        {
            using var response = await client.GetAsync(new Uri($"/console/{file}", UriKind.Relative));
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"/console/{file}: {(int)response.StatusCode}");
            var expected = file switch
            {
                "" or "index.html" => "text/html",
                "console.css" => "text/css",
                _ => "text/javascript",
            };
            Assert.Equal(expected, response.Content.Headers.ContentType!.MediaType);
            var policy = response.Headers.GetValues("Content-Security-Policy").Single();
            Assert.Contains("default-src 'self'", policy, StringComparison.Ordinal);
            Assert.Contains("connect-src 'self'", policy, StringComparison.Ordinal);
            Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());

            // Nothing from elsewhere: no absolute URL in any file, and every module it imports is one of the served files.
            var text = await response.Content.ReadAsStringAsync();
            Assert.DoesNotMatch("(https?:)?//[a-z0-9.-]+\\.[a-z]{2,}/", text);
            foreach (Match import in ImportPattern().Matches(text))
            {
                var target = new Uri(new Uri($"http://x/console/{file}"), import.Groups[1].Value).AbsolutePath["/console/".Length..];
                Assert.Contains(target, Files);
            }

            // Unchanged files are not sent again.
            using var again = new HttpRequestMessage(HttpMethod.Get, $"/console/{file}");
            again.Headers.TryAddWithoutValidation("If-None-Match", response.Headers.ETag!.Tag);
            using var cached = await client.SendAsync(again);
            Assert.Equal(HttpStatusCode.NotModified, cached.StatusCode);
        }

        using var missing = await client.GetAsync(new Uri("/console/nothing-here.js", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType!.MediaType);
    }

    [Fact]
    public async Task Api_me_names_the_callers_tenant_user_and_roles_and_refuses_anyone_without_credentials()
    {
        await using var backend = await EchoBackend.StartAsync();
        await using var factory = new ServiceFactory<Program>(EchoBackend.Settings(backend));
        using var anonymous = factory.CreateClient();
        using var refused = await anonymous.GetAsync(new Uri("/api/me", UriKind.Relative));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType!.MediaType);

        using var alice = factory.CreateClient();
        alice.DefaultRequestHeaders.Add("X-Api-Key", "demo-alice-agent-user-key");
        var me = JsonNode.Parse(await alice.GetStringAsync(new Uri("/api/me", UriKind.Relative)))!;
        Assert.Equal("demo", me["tenantId"]!.GetValue<string>());
        Assert.Equal("alice", me["userId"]!.GetValue<string>());
        Assert.Equal(["agent-user"], me["roles"]!.AsArray().Select(r => r!.GetValue<string>()).ToArray());

        using var dave = factory.CreateClient();
        dave.DefaultRequestHeaders.Add("X-Api-Key", "acme-dave-agent-user-key");
        Assert.Equal("acme", JsonNode.Parse(await dave.GetStringAsync(new Uri("/api/me", UriKind.Relative)))!["tenantId"]!.GetValue<string>());
    }

    [GeneratedRegex("(?:import\\(|from\\s+)'(\\.{1,2}/[^']+)'")]
    private static partial Regex ImportPattern();
}
