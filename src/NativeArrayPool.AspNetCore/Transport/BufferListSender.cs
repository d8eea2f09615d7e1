using System.Net.Sockets;
using System.Threading.Tasks.Sources;

namespace NativeBuffers.AspNetCore.Transport;

/// <summary>
/// Sends a list of array segments in one <c>sendmsg</c>, reusing one <see cref="SocketAsyncEventArgs"/> per connection.
/// </summary>
/// <remarks>
/// <see cref="Socket.SendAsync(IList{ArraySegment{byte}}, SocketFlags)"/> sends the same way but allocates a
/// <see cref="Task{TResult}"/> per call; this one completes as a <see cref="ValueTask{TResult}"/> backed by itself, so
/// a send allocates nothing. One send at a time: the connection's send loop is its only caller, and it awaits each
/// send before the next.
/// </remarks>
internal sealed class BufferListSender : SocketAsyncEventArgs, IValueTaskSource<int>
{
    private ManualResetValueTaskSourceCore<int> _completion;

    public BufferListSender() : base(unsafeSuppressExecutionContextFlow: true)
    {
    }

    /// <summary>Sends every byte of <paramref name="segments"/>, in order; the result is the number of bytes sent.</summary>
    /// <remarks>The caller must not change <paramref name="segments"/> or their memory until the send completes.</remarks>
    /// <exception cref="SocketException">The send failed (the peer reset the connection, or the socket was shut down).</exception>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public ValueTask<int> SendAsync(Socket socket, IList<ArraySegment<byte>> segments)
    {
        _completion.Reset();
        BufferList = segments; // copied into the event args' own list
        if (socket.SendAsync(this))
            return new ValueTask<int>(this, _completion.Version);
        // Completed synchronously: the common case while the socket's send buffer has room.
        int sent = BytesTransferred;
        SocketError error = SocketError;
        BufferList = null; // let go of the pool's arrays now rather than at the next send
        return error == SocketError.Success
            ? new ValueTask<int>(sent)
            : ValueTask.FromException<int>(new SocketException((int)error));
    }

    protected override void OnCompleted(SocketAsyncEventArgs e)
    {
        int sent = BytesTransferred;
        SocketError error = SocketError;
        BufferList = null;
        if (error == SocketError.Success)
            _completion.SetResult(sent);
        else
            _completion.SetException(new SocketException((int)error));
    }

    int IValueTaskSource<int>.GetResult(short token) => _completion.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => _completion.GetStatus(token);

    void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _completion.OnCompleted(continuation, state, token, flags);
}
