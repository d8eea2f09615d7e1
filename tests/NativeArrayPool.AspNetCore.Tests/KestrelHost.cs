using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace NativeBuffers.AspNetCore.Tests;

/// <summary>A real Kestrel on 127.0.0.1, on a port the kernel picks, that echoes POST /echo.</summary>
internal sealed class KestrelHost : IAsyncDisposable
{
    private KestrelHost(WebApplication app, Uri address)
    {
        App = app;
        Address = address;
    }

    public WebApplication App { get; }
    public Uri Address { get; }

    /// <param name="configureServices">Registers the pool and transport under test.</param>
    /// <param name="protocols">What the endpoint speaks.</param>
    /// <param name="mapRoutes">Routes a test needs besides POST /echo.</param>
    public static async Task<KestrelHost> StartAsync(Action<IServiceCollection> configureServices, HttpProtocols protocols = HttpProtocols.Http1,
        Action<WebApplication>? mapRoutes = null)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = protocols);
            kestrel.Limits.MaxRequestBodySize = 64L << 20;
        });
        configureServices(builder.Services);
        WebApplication app = builder.Build();
        app.MapPost("/echo", static async context =>
        {
            if (context.Request.ContentLength is long length)
                context.Response.ContentLength = length;
            await context.Request.BodyReader.CopyToAsync(context.Response.BodyWriter, context.RequestAborted);
        });
        mapRoutes?.Invoke(app);
        await app.StartAsync();
        string bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new KestrelHost(app, new Uri(bound));
    }

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
