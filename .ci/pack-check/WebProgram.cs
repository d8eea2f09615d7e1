// The consumer side of .ci/pack-check.sh for NativeArrayPool.AspNetCore: a web app that got the package from the
// local folder, as a user would. It registers the native pool with one line, echoes a body through Kestrel on
// 127.0.0.1, and prints one line that the script compares with what it expects.
using System.Net;
using NativeBuffers;
using NativeBuffers.AspNetCore;

WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
builder.Services.AddNativeMemoryPool();
WebApplication app = builder.Build();
app.MapPost("/echo", static context => context.Request.BodyReader.CopyToAsync(context.Response.BodyWriter, context.RequestAborted));
await app.StartAsync();

long rentsBefore = NativeMemoryPool.Shared.GetStatistics().Rents;
byte[] body = new byte[256 * 1024]; // well inside what HttpClient can echo over HTTP/1.1 (it sends the whole body before reading)
new Random(7).NextBytes(body);
using var client = new HttpClient();
using HttpResponseMessage response = await client.PostAsync(app.Urls.First() + "/echo", new ByteArrayContent(body));
byte[] echoed = await response.Content.ReadAsByteArrayAsync();
bool served = NativeMemoryPool.Shared.GetStatistics().Rents > rentsBefore;
Console.WriteLine($"web: status={(int)response.StatusCode} echoed={echoed.AsSpan().SequenceEqual(body)} nativePoolServed={served}");
await app.StopAsync();
