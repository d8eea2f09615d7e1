using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using NativeBuffers.AspNetCore.Transport;

namespace NativeBuffers.AspNetCore;

/// <summary>
/// A Kestrel socket transport whose connection pipes rent from the registered <see cref="IMemoryPoolFactory{T}"/>
/// and work with memory that has no array behind it, such as <see cref="NativeMemoryPool"/>'s.
/// <c>services.AddNativeMemoryPool()</c> registers it in place of Kestrel's sockets transport.
/// </summary>
/// <remarks>
/// <para><b>Why it exists.</b> Kestrel's own sockets transport (ASP.NET Core 10.0) sends a response that spans
/// several pipe segments with <c>SocketAsyncEventArgs.BufferList</c>, which takes <see cref="ArraySegment{T}"/>s: with a
/// pool whose memory is not array-backed it throws <c>InvalidOperationException: Buffer backed by array was
/// expected</c> and drops the connection. This transport sends memory without an array behind it segment by segment
/// with <see cref="Socket.SendAsync(ReadOnlyMemory{byte}, SocketFlags, CancellationToken)"/>, which pins memory through
/// its <see cref="System.Buffers.MemoryManager{T}"/>, and receives straight into pool memory.</para>
/// <para><b>Scope.</b> TCP (<see cref="IPEndPoint"/>) and Unix-domain endpoints. Kestrel runs its connection protocols
/// on it unchanged; the tests exercise HTTP/1.1 (concurrent echoes up to 8 MiB over NativeMemoryPool and up to 3 MiB
/// over Kestrel's pinned pool, one-byte ping-pong, clients that vanish mid-request, shutdown) and HTTP/2 over
/// cleartext (16 concurrent streams of up to 64 KiB), not Unix-domain sockets. It keeps Kestrel's default buffer
/// limits (1 MiB read-ahead, 64 KiB unsent output) and has none of Kestrel's transport options (I/O queues, inline
/// scheduling).</para>
/// <para><b>Sends.</b> A flush of 8 KiB or more is sent at once by the flushing thread; a smaller one is held for one
/// trip through the thread pool, so small flushes made meanwhile leave with it. A send whose segments all lie in
/// arrays (Kestrel's pinned pool, for one) is one gathering <c>sendmsg</c>, as with Kestrel's transport. Memory without
/// an array behind it, such as <see cref="NativeMemoryPool"/>'s, leaves in one system call per segment, since
/// <see cref="Socket"/> has no gathering send for it; that pool's output segments are 64 KiB, so a response of up to
/// 64 KiB flushed at once is one call.</para>
/// <para>Thread-safety: all members are thread-safe.</para>
/// </remarks>
public sealed class NativeSocketTransportFactory : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    private readonly IMemoryPoolFactory<byte> _pools;

    /// <summary>Creates the transport factory.</summary>
    /// <param name="pools">Where each listener gets its pool (one per listener, disposed when the listener is).</param>
    /// <exception cref="ArgumentNullException"><paramref name="pools"/> is null.</exception>
    public NativeSocketTransportFactory(IMemoryPoolFactory<byte> pools)
    {
        ArgumentNullException.ThrowIfNull(pools);
        _pools = pools;
    }

    /// <summary>True for <see cref="IPEndPoint"/> and <see cref="UnixDomainSocketEndPoint"/>.</summary>
    public bool CanBind(EndPoint endpoint) => endpoint is IPEndPoint or UnixDomainSocketEndPoint;

    /// <summary>Binds a listening socket to <paramref name="endpoint"/> (port 0 picks a free port; the listener's endpoint tells which).</summary>
    /// <exception cref="ArgumentNullException"><paramref name="endpoint"/> is null.</exception>
    /// <exception cref="NotSupportedException"><paramref name="endpoint"/> is not an IP or Unix-domain endpoint.</exception>
    /// <exception cref="SocketException">The endpoint could not be bound (e.g. the port is in use).</exception>
    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (!CanBind(endpoint))
            throw new NotSupportedException($"{endpoint.GetType().Name} is not supported by {nameof(NativeSocketTransportFactory)}; bind an IPEndPoint or UnixDomainSocketEndPoint.");
        var socket = endpoint is UnixDomainSocketEndPoint
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endpoint is IPEndPoint { Address: var address } && address.Equals(IPAddress.IPv6Any))
                socket.DualMode = true;
            socket.Bind(endpoint);
            socket.Listen(512);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return new ValueTask<IConnectionListener>(new NativeSocketListener(socket, _pools.Create()));
    }
}
