using System.Collections.Frozen;
using System.Security.Cryptography;
using Agents.Gateway.Security;
using Agents.ServiceDefaults;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Agents.Gateway.WebConsole;

/// <summary>The caller as the gateway authenticated them: <c>GET /api/me</c>.</summary>
public sealed record CallerView(string TenantId, string UserId, IReadOnlyList<string> Roles);

/// <summary>
/// The web console at <see cref="Path"/>: static HTML, CSS and JavaScript modules embedded in this assembly (so the
/// build output, the published folder and the container image always carry them). The files are public; everything
/// they show comes from the public API with the caller's own credentials, so the console sees exactly what the API
/// lets that caller see. <c>GET /api/me</c> tells the console who the credentials belong to.
/// </summary>
internal static class ConsoleExtensions
{
    public const string Path = "/console";
    private const string ResourcePrefix = "console/";

    // Only this origin: no CDN, no inline script, nothing framed.
    private const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private static readonly FrozenDictionary<string, string> ContentTypes = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        [".html"] = "text/html; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [".svg"] = "image/svg+xml",
        [".png"] = "image/png",
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    public static WebApplication MapConsole(this WebApplication app)
    {
        var files = LoadFiles();
        // The pattern also matches the bare path, which goes to the folder so that the pages' relative links resolve.
        app.MapGet(Path + "/{**file}", (string? file, HttpContext http) =>
                http.Request.Path.Value!.EndsWith('/') || !string.IsNullOrEmpty(file) ? Serve(files, file, http) : Results.Redirect(Path + "/"))
            .ExcludeFromDescription();

        app.MapGet("/api/me", (HttpContext http) =>
            {
                var principal = PrincipalForwarding.ToPrincipal(http.User)!;
                return TypedResults.Ok(new CallerView(principal.TenantId, principal.UserId, principal.Roles));
            })
            .RequireAuthorization(AuthenticationExtensions.PolicyName)
            .WithTags("Identity")
            .WithSummary("Who the credentials belong to: tenant, user and roles.")
            .ProducesProblem(StatusCodes.Status401Unauthorized);

        app.MapGet("/api/console/settings", (IOptions<ConsoleOptions> options) => TypedResults.Ok(new ConsoleSettingsView(options.Value.TraceUrl)))
            .RequireAuthorization(AuthenticationExtensions.PolicyName)
            .WithTags("Identity")
            .WithSummary("The web console's settings: the trace UI's URL template (Gateway:Console:TraceUrl), when configured.")
            .ProducesProblem(StatusCodes.Status401Unauthorized);
        return app;
    }

    private static IResult Serve(FrozenDictionary<string, ConsoleFile> files, string? name, HttpContext http)
    {
        if (!files.TryGetValue(string.IsNullOrEmpty(name) ? "index.html" : name, out var file))
        {
            return Results.Problem(
                statusCode: StatusCodes.Status404NotFound,
                title: "Not found",
                detail: $"The console has no file '{name}'. Open {Path}/ to start.",
                type: ProblemTypes.NotFound);
        }

        var headers = http.Response.Headers;
        headers.ETag = file.ETag;
        headers.CacheControl = "no-cache";
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        if (http.Request.Headers.IfNoneMatch.Any(v => v == file.ETag))
        {
            return Results.StatusCode(StatusCodes.Status304NotModified);
        }

        return Results.Bytes(file.Content, file.ContentType);
    }

    private static FrozenDictionary<string, ConsoleFile> LoadFiles()
    {
        var assembly = typeof(ConsoleExtensions).Assembly;
        var files = new Dictionary<string, ConsoleFile>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            var name = resource.Replace('\\', '/');
            if (!name.StartsWith(ResourcePrefix, StringComparison.Ordinal)
                || !ContentTypes.TryGetValue(System.IO.Path.GetExtension(name), out var contentType))
            {
                continue;
            }

            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            var content = buffer.ToArray();
            var etag = new EntityTagHeaderValue($"\"{Convert.ToHexStringLower(SHA256.HashData(content))[..16]}\"").ToString();
            files[name[ResourcePrefix.Length..]] = new ConsoleFile(content, contentType, etag);
        }

        return files.Count == 0
            ? throw new InvalidOperationException($"{assembly.GetName().Name} carries no console files (EmbeddedResource console/*).")
            : files.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private sealed record ConsoleFile(byte[] Content, string ContentType, string ETag);
}
