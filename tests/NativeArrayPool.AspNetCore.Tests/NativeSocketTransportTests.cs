using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace NativeBuffers.AspNetCore.Tests;

/// <summary>
/// NativeSocketTransportFactory over both kinds of pool memory: Kestrel's own pinned pool (arrays in 4 KiB blocks, so a
/// large response spans many segments and leaves in one gathering send) and NativeMemoryPool (no arrays: one send per
/// segment). Real Kestrel on 127.0.0.1, bytes compared by hash.
/// </summary>
public class NativeSocketTransportTests
{
    public enum PoolKind
    {
        /// <summary>Kestrel's default pool factory (its pinned-block pool of 4 KiB arrays).</summary>
        KestrelPinned,
        /// <summary>NativeMemoryPool through services.AddNativeMemoryPool().</summary>
        Native,
    }

    [Theory]
    [InlineData(PoolKind.KestrelPinned)]
    [InlineData(PoolKind.Native)]
    public async Task Responses_spanning_many_pool_blocks_are_echoed_intact(PoolKind pool)
    {
        await using KestrelHost host = await StartAsync(pool);
        await AssertServedByThisTransportAsync(host, pool);

        // Around one 4 KiB block, around the 64 KiB unsent-output limit, and far beyond both.
        int[] sizes = [0, 1, 4095, 4096, 4097, 3 * 4096 + 5, 16 << 10, (64 << 10) - 1, (64 << 10) + 7, 300_000, 3 << 20];
        Task[] connections = Enumerable.Range(0, 3).Select(c => Task.Run(async () =>
        {
            await using DuplexHttpConnection connection = await DuplexHttpConnection.ConnectAsync(host.Address);
            for (int i = c; i < sizes.Length; i += 3)
                await AssertEchoedAsync(connection, sizes[i], seed: i);
        })).ToArray();
        // A hang guard, not a speed check.
        await Task.WhenAll(connections).WaitAsync(TimeSpan.FromMinutes(5));
    }

    [Theory]
    [InlineData(PoolKind.KestrelPinned)]
    [InlineData(PoolKind.Native)]
    public async Task A_small_flush_is_sent_without_waiting_for_more_output(PoolKind pool)
    {
        await using KestrelHost host = await StartAsync(pool);
        await AssertServedByThisTransportAsync(host, pool);

        // Ping-pong: the client sends the next byte only once the echo of the previous one has arrived, so each
        // small flush is all the output there is until it has been sent. One held back for more would hang this.
        const int Length = 20;
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(IPAddress.Loopback, host.Address.Port);
        await socket.SendAsync(Encoding.ASCII.GetBytes($"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {Length}\r\n\r\n"), SocketFlags.None);
        var received = new List<byte>();
        byte[] buffer = new byte[4096];
        int bodyStart = -1;
        for (int i = 0; i < Length; i++)
        {
            await socket.SendAsync(new[] { (byte)('a' + i) }, SocketFlags.None);
            while (bodyStart < 0 || received.Count < bodyStart + i + 1)
            {
                int read = await socket.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(TimeSpan.FromMinutes(1));
                Assert.True(read > 0, "the server closed the connection");
                received.AddRange(buffer.AsSpan(0, read).ToArray());
                if (bodyStart < 0)
                {
                    int headEnd = received.ToArray().AsSpan().IndexOf("\r\n\r\n"u8);
                    bodyStart = headEnd < 0 ? -1 : headEnd + 4;
                }
            }
        }
        string body = Encoding.ASCII.GetString(received.ToArray(), bodyStart, received.Count - bodyStart);
        Assert.Equal(string.Concat(Enumerable.Range(0, Length).Select(i => (char)('a' + i))), body);
    }

    private static Task<KestrelHost> StartAsync(PoolKind pool) => KestrelHost.StartAsync(services =>
    {
        if (pool == PoolKind.Native)
            services.AddNativeMemoryPool(_ => { });
        else // registered after Kestrel's own transport, so Kestrel tries it first; the pool stays Kestrel's default
            services.AddSingleton<IConnectionListenerFactory, NativeSocketTransportFactory>();
    }, mapRoutes: app => app.MapGet("/connection", static context =>
    {
        MemoryPool<byte>? pool = context.Features.Get<IMemoryPoolFeature>()?.MemoryPool;
        return context.Response.WriteAsync($"{context.Connection.Id} {pool?.GetType().Name} {pool?.MaxBufferSize}");
    }));

    private static async Task AssertServedByThisTransportAsync(KestrelHost host, PoolKind pool)
    {
        using var client = new HttpClient { BaseAddress = host.Address };
        string[] connection = (await client.GetStringAsync("/connection")).Split(' ');
        Assert.StartsWith("native-", connection[0]); // NativeSocketListener's connection ids
        if (pool == PoolKind.KestrelPinned)
            Assert.Equal(["PinnedBlockMemoryPool", "4096"], connection[1..]);
        else
            Assert.StartsWith("Native", connection[1]);
    }

    private static async Task AssertEchoedAsync(DuplexHttpConnection connection, int size, int seed)
    {
        byte[] body = new byte[size];
        new Random(seed).NextBytes(body);
        (int status, byte[] echoedHash, long echoedLength) = await connection.PostAsync("/echo", body);
        Assert.Equal(200, status);
        Assert.Equal(size, echoedLength);
        Assert.Equal(Convert.ToHexString(SHA256.HashData(body)), Convert.ToHexString(echoedHash));
    }
}
