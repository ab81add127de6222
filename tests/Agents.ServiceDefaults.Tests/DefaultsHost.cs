using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;

namespace Agents.ServiceDefaults.Tests;

/// <summary>
/// A host with the service defaults, the default endpoints and the routes a test maps, on the in-memory test server or
/// (<c>kestrel</c>) on a real Kestrel port of 127.0.0.1, with a client for it.
/// </summary>
internal sealed class DefaultsHost : IAsyncDisposable
{
    private DefaultsHost(WebApplication app, HttpClient client)
    {
        App = app;
        Client = client;
    }

    public WebApplication App { get; }

    public HttpClient Client { get; }

    public static async Task<DefaultsHost> StartAsync(Action<WebApplication> map, bool kestrel = false)
    {
        var builder = WebApplication.CreateBuilder();
        if (kestrel)
        {
            builder.WebHost.UseUrls("http://127.0.0.1:0");
        }
        else
        {
            builder.WebHost.UseTestServer();
        }

        builder.AddServiceDefaults();
        var app = builder.Build();
        app.MapDefaultEndpoints();
        map(app);
        await app.StartAsync();
        return new DefaultsHost(app, kestrel ? new HttpClient { BaseAddress = new Uri(app.Urls.First()) } : app.GetTestClient());
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.DisposeAsync();
    }
}
