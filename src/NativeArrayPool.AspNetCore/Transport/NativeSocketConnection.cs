using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace NativeBuffers.AspNetCore.Transport;

/// <summary>
/// One accepted socket as a Kestrel connection: a receive loop fills the input pipe straight from the socket, a send
/// loop drains the output pipe into it, all segments of array memory in one system call, other memory segment by
/// segment. Both pipes rent from the listener's pool.
/// </summary>
/// <remarks>
/// Lifetime: the receive loop ends at the peer's FIN, an error or an abort, and completes the input (Kestrel then sees
/// the end of the request stream) and fires <c>ConnectionClosed</c>. The send loop ends when Kestrel completes
/// the output or on an abort; it then shuts the socket down, which ends the receive loop too. <see cref="DisposeAsync"/>
/// waits for both loops, so no pool memory is in use once it returns.
/// </remarks>
internal sealed class NativeSocketConnection : ConnectionContext,
    IConnectionIdFeature, IConnectionTransportFeature, IConnectionItemsFeature, IMemoryPoolFeature,
    IConnectionLifetimeFeature, IConnectionEndPointFeature
{
    // Kestrel's defaults: read at most 1 MiB ahead of the application, buffer at most 64 KiB of unsent output.
    private const long MaxReadAhead = 1024 * 1024;
    private const long MaxUnsent = 64 * 1024;
    private const int ReceiveSize = 4096;

    // Segment sizes. Kestrel's pinned pool has only 4 KiB blocks; a size-class pool can hand out larger segments, so
    // a response of up to 64 KiB usually leaves in one send and a request body arrives in few receives.
    private const int InputSegment = 32 * 1024;
    private const int OutputSegment = 64 * 1024;

    // Flushed output below this is held for one thread-pool trip to gather more before it is sent (see SendAsync).
    // Above two of Kestrel's 4 KiB blocks, so an echo over that pool (4 KiB flushes) gathers; a quarter of a
    // NativeMemoryPool input segment, so an echo over that pool (flushes of up to 32 KiB) mostly sends at once.
    // 16 KiB held more of the latter back: 451 allocated bytes and 3.4 work items per 64 KiB echo against 230 and 2.2.
    private const int CoalesceBelow = 8 * 1024;

    private readonly Socket _socket;
    private readonly Pipe _input;
    private readonly Pipe _output;
    private readonly CancellationTokenSource _closed = new();
    private readonly FeatureCollection _features = new();
    // The send loop's: one gathering send at a time.
    private readonly BufferListSender _bufferListSender = new();
    private readonly List<ArraySegment<byte>> _gathered = new();
    private readonly ThreadPoolHop _hop = new();
    private Task _receiving = Task.CompletedTask;
    private Task _sending = Task.CompletedTask;
    private volatile ConnectionAbortedException? _abortReason;
    private int _shutDown;

    public NativeSocketConnection(Socket socket, MemoryPool<byte> pool, string id)
    {
        _socket = socket;
        MemoryPool = pool;
        ConnectionId = id;
        LocalEndPoint = socket.LocalEndPoint;
        RemoteEndPoint = socket.RemoteEndPoint;
        ConnectionClosed = _closed.Token;
        _input = new Pipe(new PipeOptions(pool, readerScheduler: PipeScheduler.ThreadPool, writerScheduler: PipeScheduler.Inline,
            pauseWriterThreshold: MaxReadAhead, resumeWriterThreshold: MaxReadAhead / 2, minimumSegmentSize: InputSegment, useSynchronizationContext: false));
        _output = new Pipe(new PipeOptions(pool, readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.ThreadPool,
            pauseWriterThreshold: MaxUnsent, resumeWriterThreshold: MaxUnsent / 2, minimumSegmentSize: OutputSegment, useSynchronizationContext: false));
        Transport = new DuplexPipe(_input.Reader, _output.Writer);

        _features.Set<IConnectionIdFeature>(this);
        _features.Set<IConnectionTransportFeature>(this);
        _features.Set<IConnectionItemsFeature>(this);
        _features.Set<IMemoryPoolFeature>(this);
        _features.Set<IConnectionLifetimeFeature>(this);
        _features.Set<IConnectionEndPointFeature>(this);
    }

    public override string ConnectionId { get; set; }
    public override IFeatureCollection Features => _features;
    public override IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();
    public override IDuplexPipe Transport { get; set; }
    public MemoryPool<byte> MemoryPool { get; }

    public void Start()
    {
        _receiving = Task.Run(ReceiveAsync);
        _sending = Task.Run(SendAsync);
    }

    public override void Abort(ConnectionAbortedException abortReason)
    {
        _abortReason ??= abortReason;
        _output.Reader.CancelPendingRead(); // the send loop stops without sending the rest
        ShutDown();
    }

    public override async ValueTask DisposeAsync()
    {
        // Kestrel has completed its ends of the pipes; make sure ours end too and nothing touches pool memory after.
        _input.Reader.Complete();
        _output.Writer.Complete();
        await _sending.ConfigureAwait(false);
        await _receiving.ConfigureAwait(false);
        _socket.Dispose();
        _bufferListSender.Dispose();
        _closed.Dispose();
    }

    private async Task ReceiveAsync()
    {
        PipeWriter writer = _input.Writer;
        Exception? error = null;
        try
        {
            while (true)
            {
                Memory<byte> memory = writer.GetMemory(ReceiveSize);
                int received = await _socket.ReceiveAsync(memory, SocketFlags.None).ConfigureAwait(false);
                if (received == 0)
                    break; // the peer finished sending
                writer.Advance(received);
                FlushResult flush = await writer.FlushAsync().ConfigureAwait(false);
                if (flush.IsCompleted || flush.IsCanceled)
                    break; // the application stopped reading
            }
        }
        catch (SocketException e) when (IsConnectionReset(e.SocketErrorCode))
        {
            if (_abortReason is null)
                error = new ConnectionResetException(e.Message, e);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Shut down by our own send loop or an abort: the end of input, not an error.
            if (_abortReason is null && Volatile.Read(ref _shutDown) == 0)
                error = new IOException(e.Message, e);
        }
        catch (Exception e)
        {
            error = e;
        }
        finally
        {
            await writer.CompleteAsync(_abortReason ?? error).ConfigureAwait(false);
            FireClosed();
        }
    }

    private async Task SendAsync()
    {
        PipeReader reader = _output.Reader;
        Exception? error = null;
        try
        {
            while (true)
            {
                ReadResult result = await reader.ReadAsync().ConfigureAwait(false);
                if (result.IsCanceled)
                    break; // aborted
                if (result.Buffer.Length < CoalesceBelow && !result.IsCompleted)
                {
                    // The loop runs inline in the application's FlushAsync, so a large flush is sent at once by the
                    // thread that made it. Sent at once, small flushes would cost one send each: an echo flushes once
                    // per received block, so a 64 KiB response over Kestrel's 4 KiB pool took 16 sends, each a pass
                    // through the TCP stack, and made this transport 0.7x as fast as Kestrel's. So a small flush gives
                    // the application its thread back (it usually writes more) and is sent, with whatever was
                    // flushed meanwhile, after one trip through the thread pool. Deferring every flush instead, as
                    // Kestrel's transport does, made the application's flushes wait on a full pipe and cost each
                    // 64 KiB echo over NativeMemoryPool ~770 more allocated bytes and 3 more work items.
                    reader.AdvanceTo(result.Buffer.Start); // nothing examined: the next read returns at once
                    await _hop;
                    result = await reader.ReadAsync().ConfigureAwait(false);
                    if (result.IsCanceled)
                        break;
                }
                ReadOnlySequence<byte> buffer = result.Buffer;
                if (!buffer.IsEmpty)
                    await SendBufferAsync(buffer).ConfigureAwait(false);
                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                    break;
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            error = null; // the peer went away or we were aborted; the receive side reports it
        }
        catch (Exception e)
        {
            error = e;
        }
        finally
        {
            await reader.CompleteAsync(error).ConfigureAwait(false);
            ShutDown();
        }
    }

    private async ValueTask SendBufferAsync(ReadOnlySequence<byte> buffer)
    {
        if (buffer.IsSingleSegment)
        {
            await _socket.SendAsync(buffer.First, SocketFlags.None).ConfigureAwait(false);
            return;
        }
        // Several segments (a pool of small blocks, such as Kestrel's 4 KiB one, gives several whenever flushes pile
        // up). Each send on its own costs a system call and, on loopback, a pass through the TCP stack and a wake-up
        // of the peer. When every segment lies in an array, one sendmsg takes them all.
        if (TryGatherArrays(buffer, _gathered))
        {
            int sent;
            try
            {
                sent = await _bufferListSender.SendAsync(_socket, _gathered).ConfigureAwait(false);
            }
            finally
            {
                _gathered.Clear();
            }
            if (sent == buffer.Length)
                return;
            // The runtime sends a stream socket's list to the end or fails; should a platform ever stop short, the
            // rest goes out below, in order.
            buffer = buffer.Slice(sent);
        }
        // Native memory has no array to put in a list, and Socket offers no gathering send for other memory:
        // one system call per segment. A size-class pool keeps them few, since its segments are large (OutputSegment).
        foreach (ReadOnlyMemory<byte> segment in buffer)
        {
            if (!segment.IsEmpty)
                await _socket.SendAsync(segment, SocketFlags.None).ConfigureAwait(false);
        }
    }

    /// <summary>Fills <paramref name="segments"/> with the arrays behind <paramref name="buffer"/>, or returns false
    /// (and leaves it empty) when any segment has no array behind it.</summary>
    private static bool TryGatherArrays(ReadOnlySequence<byte> buffer, List<ArraySegment<byte>> segments)
    {
        foreach (ReadOnlyMemory<byte> segment in buffer)
        {
            if (segment.IsEmpty)
                continue;
            if (!MemoryMarshal.TryGetArray(segment, out ArraySegment<byte> array))
            {
                segments.Clear();
                return false;
            }
            segments.Add(array);
        }
        return true;
    }

    private void ShutDown()
    {
        if (Interlocked.Exchange(ref _shutDown, 1) != 0)
            return;
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // already gone
        }
        _socket.Dispose(); // ends a pending receive
    }

    private void FireClosed()
    {
        ThreadPool.UnsafeQueueUserWorkItem(static state =>
        {
            try
            {
                state.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }, _closed, preferLocal: false);
    }

    private static bool IsConnectionReset(SocketError error) =>
        error is SocketError.ConnectionReset or SocketError.Shutdown or SocketError.ConnectionAborted;

    /// <summary>
    /// Awaited, continues on a thread-pool thread, whatever synchronization context or task scheduler the awaiting
    /// thread has (the send loop may run inline in an application's flush); allocates nothing per await. One await at
    /// a time.
    /// </summary>
    private sealed class ThreadPoolHop : ICriticalNotifyCompletion, IThreadPoolWorkItem
    {
        private Action? _continuation;

        public ThreadPoolHop GetAwaiter() => this;

        public bool IsCompleted => false;

        public void GetResult()
        {
        }

        public void OnCompleted(Action continuation) =>
            ThreadPool.QueueUserWorkItem(static continuation => continuation(), continuation, preferLocal: true);

        public void UnsafeOnCompleted(Action continuation)
        {
            _continuation = continuation;
            // Local: this thread runs it once its current work item (the application's flush and what follows) is
            // done, so what the application writes meanwhile leaves with it; an idle thread may steal it sooner.
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: true);
        }

        void IThreadPoolWorkItem.Execute()
        {
            Action continuation = _continuation!;
            _continuation = null;
            continuation();
        }
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;
        public PipeWriter Output { get; } = output;
    }
}
