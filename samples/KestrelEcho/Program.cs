// KestrelEcho: a Kestrel server on 127.0.0.1 that echoes request bodies, to compare Kestrel's default memory pool
// with NativeMemoryPool under load (perf/kestrel-wrk.sh).
//
//   dotnet run -c Release --project samples/KestrelEcho -- [--port 5080] [--pool native|default|transport]
//   (or KESTRELECHO_PORT / KESTRELECHO_POOL)
//     default    Kestrel's sockets transport and its pinned-block pool (arrays)
//     native     NativeSocketTransportFactory and NativeMemoryPool.Shared (services.AddNativeMemoryPool())
//     transport  NativeSocketTransportFactory with Kestrel's pinned-block pool: separates the transport's cost from the pool's
//
//   POST /echo   the request body, streamed back
//   GET  /stats  JSON: which pool, its counters (native only), GC collection counts, allocated bytes, thread-pool work
//                items completed, lock contentions, peak RSS
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Connections;
using NativeBuffers;
using NativeBuffers.AspNetCore;

int port = int.Parse(Option("port", "KESTRELECHO_PORT") ?? "5080");
string pool = (Option("pool", "KESTRELECHO_POOL") ?? "native").ToLowerInvariant();
if (pool is not ("native" or "default" or "transport"))
{
    Console.Error.WriteLine($"--pool must be 'native', 'default' or 'transport', not '{pool}'.");
    return 2;
}

WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(args);
if (Environment.GetEnvironmentVariable("KESTRELECHO_LOG") != "1")
    builder.Logging.ClearProviders(); // logging off under load; KESTRELECHO_LOG=1 keeps it for debugging
builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.Listen(IPAddress.Loopback, port);
    kestrel.Limits.MaxRequestBodySize = 64L << 20;
});
if (pool == "native")
    builder.Services.AddNativeMemoryPool(); // pools: NativeMemoryPool.Shared; transport: NativeSocketTransportFactory
else if (pool == "transport")
    builder.Services.AddSingleton<IConnectionListenerFactory, NativeSocketTransportFactory>(); // tried before Kestrel's

WebApplication app = builder.Build();

app.MapPost("/echo", static async context =>
{
    context.Response.ContentType = "application/octet-stream";
    if (context.Request.ContentLength is long length)
        context.Response.ContentLength = length;
    await context.Request.BodyReader.CopyToAsync(context.Response.BodyWriter, context.RequestAborted);
});

app.MapGet("/stats", async context =>
{
    context.Response.ContentType = "application/json";
    // Written into the response's pipe (no synchronous stream I/O, which Kestrel forbids).
    using var json = new Utf8JsonWriter(context.Response.BodyWriter);
    json.WriteStartObject();
    json.WriteString("pool", pool);
    json.WriteNumber("gen0Collections", GC.CollectionCount(0));
    json.WriteNumber("gen1Collections", GC.CollectionCount(1));
    json.WriteNumber("gen2Collections", GC.CollectionCount(2));
    json.WriteNumber("allocatedBytes", GC.GetTotalAllocatedBytes());
    json.WriteNumber("threadPoolWorkItems", ThreadPool.CompletedWorkItemCount);
    json.WriteNumber("lockContentions", Monitor.LockContentionCount);
    json.WriteNumber("peakRssBytes", PeakRssBytes());
    if (pool == "native")
    {
        NativePoolStatistics s = NativeMemoryPool.Shared.GetStatistics();
        json.WriteStartObject("native");
        json.WriteNumber("rents", s.Rents);
        json.WriteNumber("returns", s.Returns);
        json.WriteNumber("inUseBytes", s.InUseBytes);
        json.WriteNumber("mappedBytes", s.MappedBytes);
        json.WriteNumber("kernelMappings", s.KernelMappings);
        json.WriteNumber("reservations", s.Reservations);
        json.WriteString("backend", s.Backend);
        json.WriteEndObject();
    }
    json.WriteEndObject();
    json.Flush();
    await context.Response.BodyWriter.FlushAsync(context.RequestAborted);
});

Console.WriteLine($"KestrelEcho listening on http://127.0.0.1:{port} with the {pool} pool (pid {Environment.ProcessId})");
await app.RunAsync();
return 0;

string? Option(string name, string environment)
{
    int at = Array.IndexOf(args, "--" + name);
    if (at >= 0 && at + 1 < args.Length)
        return args[at + 1];
    return Environment.GetEnvironmentVariable(environment);
}

static long PeakRssBytes()
{
    // VmHWM: the resident set's high-water mark, in kB (Linux only; -1 elsewhere).
    const string path = "/proc/self/status";
    if (!File.Exists(path))
        return -1;
    foreach (string line in File.ReadLines(path))
    {
        if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim()) * 1024;
    }
    return -1;
}
