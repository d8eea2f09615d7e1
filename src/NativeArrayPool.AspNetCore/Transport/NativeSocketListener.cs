using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;

namespace NativeBuffers.AspNetCore.Transport;

/// <summary>
/// One bound listening socket. Accepts connections until unbound; owns the pool its connections rent from and
/// disposes it with itself (Kestrel disposes a listener after its connections have ended).
/// </summary>
internal sealed class NativeSocketListener : IConnectionListener
{
    private readonly Socket _socket;
    private readonly MemoryPool<byte> _pool;
    private long _nextId;

    public NativeSocketListener(Socket socket, MemoryPool<byte> pool)
    {
        _socket = socket;
        _pool = pool;
        EndPoint = socket.LocalEndPoint!;
    }

    public EndPoint EndPoint { get; }

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            Socket accepted;
            try
            {
                accepted = await _socket.AcceptAsync(cancellationToken);
            }
            catch (ObjectDisposedException)
            {
                return null; // unbound
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.OperationAborted)
            {
                return null; // unbound
            }
            catch (SocketException)
            {
                continue; // the peer gave up before we accepted (e.g. connection reset): take the next one
            }
            if (accepted.ProtocolType == ProtocolType.Tcp)
                accepted.NoDelay = true;
            var connection = new NativeSocketConnection(accepted, _pool, "native-" + Interlocked.Increment(ref _nextId).ToString(System.Globalization.CultureInfo.InvariantCulture));
            connection.Start();
            return connection;
        }
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        _socket.Dispose();
        return default;
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        _pool.Dispose();
        return default;
    }
}
