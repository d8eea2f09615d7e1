using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using NativeBuffers.Collections;
using NativeBuffers.Pooling;

namespace NativeBuffers;

/// <summary>
/// A <see cref="Stream"/> over a growable native buffer from a <see cref="NativeArrayPool{T}"/> of bytes: the role
/// <see cref="MemoryStream"/> and RecyclableMemoryStream play, with <see cref="Length"/> and <see cref="Position"/>
/// beyond 2 GiB and growth that moves pages instead of copying them.
/// </summary>
/// <remarks>
/// <para>Semantics follow <see cref="MemoryStream"/>: the stream is readable, writable and seekable; seeking past
/// the end is allowed and a write there zero-fills the gap; <see cref="SetLength"/> truncates (moving
/// <see cref="Position"/> back if it was past the new end) or extends with zeros; a write of 0 bytes past the end
/// still extends the stream to the position; argument checks throw the same exception types.</para>
/// <para>Differences: lengths and positions are <see cref="long"/> (up to 16 TiB); <see cref="Dispose(bool)"/>
/// returns the buffer to the pool, so every member except <see cref="Flush"/> and the <c>Can*</c> properties then
/// throws <see cref="ObjectDisposedException"/> — <see cref="ToArray"/> and <see cref="SetLength"/> included, which
/// on a closed <see cref="MemoryStream"/> still work or throw <see cref="NotSupportedException"/>;
/// <see cref="ToArray"/> throws <see cref="InvalidOperationException"/> when the data does not fit an array.
/// There is no finalizer: a stream that is never disposed keeps its memory rented.</para>
/// <para>Growth at least doubles the capacity through <see cref="NativeArrayPool{T}.Resize"/>. Sequences from
/// <see cref="GetReadOnlySequence"/> are valid until the stream next grows or is disposed; reading them afterwards
/// throws <see cref="ObjectDisposedException"/>. Spans taken from them are not checked: after growth they point to
/// memory that went back to the pool (or whose pages moved), unlike a <see cref="MemoryStream"/>'s old array.
/// The stream's own bytes may be passed to <see cref="Write(ReadOnlySpan{byte})"/>, <see cref="Read(Span{byte})"/>
/// and their variants, and the stream to its own <see cref="CopyTo(Stream, int)"/>, <see cref="CopyToAsync(Stream, int, CancellationToken)"/>
/// and <see cref="WriteTo"/>: each gives what <see cref="MemoryStream"/> gives, growth or not. docs/collections.md has
/// the details.</para>
/// <para>Thread-safety: none, as with <see cref="MemoryStream"/>. Asynchronous methods complete synchronously.</para>
/// </remarks>
/// <example>
/// <code>
/// using var stream = new NativeMemoryStream();
/// await response.Content.CopyToAsync(stream);   // may exceed 2 GiB
/// stream.Position = 0;
/// await stream.CopyToAsync(file);
/// </code>
/// </example>
[DebuggerDisplay("{ToString(),nq}")]
public sealed class NativeMemoryStream : Stream, IMemoryOrigin
{
    /// <summary>The smallest capacity the stream grows to, as <see cref="MemoryStream"/> (256 bytes).</summary>
    private const int MinimumGrowth = 256;

    private readonly NativeArrayPool<byte> _pool;
    private NativeBuffer<byte> _buffer;
    private long _length;
    private long _position;
    private int _resizes; // the sequences handed out record it, to tell whether growth or disposal made them stale
    private bool _disposed;

    private const string SequenceWhat = "A ReadOnlySequence<byte> from NativeMemoryStream.GetReadOnlySequence";
    private const string CopyWhat = "A Memory<byte> that NativeMemoryStream.CopyToAsync passed to its destination";

    /// <summary>Creates an empty stream that rents nothing until the first write.</summary>
    /// <param name="pool">The pool to rent from; <c>null</c> for <see cref="NativeArrayPool{T}.Shared"/>.</param>
    /// <exception cref="ObjectDisposedException"><paramref name="pool"/> was disposed.</exception>
    public NativeMemoryStream(NativeArrayPool<byte>? pool = null) : this(0, pool)
    {
    }

    /// <summary>Creates an empty stream with room for at least <paramref name="capacity"/> bytes.</summary>
    /// <param name="capacity">Bytes to rent up front; 0 rents nothing.</param>
    /// <param name="pool">The pool to rent from; <c>null</c> for <see cref="NativeArrayPool{T}.Shared"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is negative or larger than <see cref="NativeArrayPool{T}.MaxLength"/>.</exception>
    /// <exception cref="ObjectDisposedException"><paramref name="pool"/> was disposed.</exception>
    public NativeMemoryStream(long capacity, NativeArrayPool<byte>? pool = null)
    {
        _pool = pool ?? NativeArrayPool<byte>.Shared;
        _buffer = _pool.Rent(capacity);
    }

    /// <summary>The pool this stream rents from.</summary>
    public NativeArrayPool<byte> Pool => _pool;

    /// <summary>True until the stream is disposed.</summary>
    public override bool CanRead => !_disposed;

    /// <summary>True until the stream is disposed.</summary>
    public override bool CanSeek => !_disposed;

    /// <summary>True until the stream is disposed.</summary>
    public override bool CanWrite => !_disposed;

    /// <summary>The number of bytes in the stream.</summary>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    public override long Length
    {
        get
        {
            ThrowIfDisposed();
            return _length;
        }
    }

    /// <summary>Where the next read or write happens; may be past <see cref="Length"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative or larger than <see cref="NativeArrayPool{T}.MaxLength"/>.</exception>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    public override long Position
    {
        get
        {
            ThrowIfDisposed();
            return _position;
        }
        set
        {
            if (value < 0)
                ThrowHelper.ThrowNegativeLength(nameof(value), value);
            ThrowIfDisposed();
            if (value > NativeArrayPool<byte>.MaxLength)
                ThrowHelper.ThrowTooLarge(nameof(value), value, NativeArrayPool<byte>.MaxLength);
            _position = value;
        }
    }

    /// <summary>
    /// The bytes the stream holds before it must grow: the rented buffer's length, at least what was set. Setting it
    /// resizes the buffer through the pool (growing or shrinking); the contents are kept.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is less than <see cref="Length"/> or larger than <see cref="NativeArrayPool{T}.MaxLength"/>.</exception>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    public long Capacity
    {
        get
        {
            ThrowIfDisposed();
            return _buffer.Length;
        }
        set
        {
            ThrowIfDisposed();
            if (value < _length)
                ThrowHelper.ThrowArgumentOutOfRange(nameof(value), value, $"Capacity is less than the stream's length of {_length} bytes; truncate with SetLength first.");
            if (value > NativeArrayPool<byte>.MaxLength)
                ThrowHelper.ThrowTooLarge(nameof(value), value, NativeArrayPool<byte>.MaxLength);
            if (value != _buffer.Length)
            {
                CollectionBuffer.Resize(_pool, ref _buffer, value, this);
                _resizes++;
            }
        }
    }

    /// <summary>Does nothing: the data is already in memory. Does not throw after disposal, like <see cref="MemoryStream"/>.</summary>
    public override void Flush()
    {
    }

    /// <summary>Completes at once (or is cancelled if <paramref name="cancellationToken"/> already is).</summary>
    public override Task FlushAsync(CancellationToken cancellationToken) =>
        cancellationToken.IsCancellationRequested ? Task.FromCanceled(cancellationToken) : Task.CompletedTask;

    /// <summary>Moves <see cref="Position"/> to <paramref name="offset"/> from <paramref name="origin"/> and returns it. Past the end is allowed.</summary>
    /// <exception cref="ArgumentException"><paramref name="origin"/> is not a <see cref="SeekOrigin"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The new position would be larger than <see cref="NativeArrayPool{T}.MaxLength"/>.</exception>
    /// <exception cref="IOException">The new position would be before the beginning.</exception>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    public override long Seek(long offset, SeekOrigin origin)
    {
        ThrowIfDisposed();
        long from = origin switch
        {
            SeekOrigin.Begin => 0,
            SeekOrigin.Current => _position,
            SeekOrigin.End => _length,
            _ => InvalidOrigin(origin),
        };
        if (offset > NativeArrayPool<byte>.MaxLength - from)
            ThrowHelper.ThrowTooLarge(nameof(offset), offset, NativeArrayPool<byte>.MaxLength - from);
        if (from + offset < 0)
            ThrowHelper.ThrowSeekBeforeBegin();
        _position = from + offset;
        return _position;
    }

    private static long InvalidOrigin(SeekOrigin origin)
    {
        ThrowHelper.ThrowInvalidSeekOrigin(origin);
        return 0;
    }

    /// <summary>
    /// Sets the length: truncating drops the bytes past <paramref name="value"/> (and moves <see cref="Position"/> back
    /// to it if it was further); extending appends zeros.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="value"/> is negative or larger than <see cref="NativeArrayPool{T}.MaxLength"/>.</exception>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    /// <exception cref="InsufficientMemoryException">The pool could not grow the buffer; the stream is unchanged.</exception>
    public override void SetLength(long value)
    {
        if (value < 0)
            ThrowHelper.ThrowNegativeLength(nameof(value), value);
        if (value > NativeArrayPool<byte>.MaxLength)
            ThrowHelper.ThrowTooLarge(nameof(value), value, NativeArrayPool<byte>.MaxLength);
        ThrowIfDisposed();
        EnsureCapacity(value);
        if (value > _length)
            ClearRange(_length, value - _length);
        _length = value;
        if (_position > value)
            _position = value;
    }

    /// <summary>Reads up to <paramref name="count"/> bytes into <paramref name="buffer"/> at <paramref name="offset"/>; returns how many (0 at the end).</summary>
    /// <exception cref="ArgumentNullException"><paramref name="buffer"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="offset"/> or <paramref name="count"/> is negative, or they do not fit <paramref name="buffer"/>.</exception>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    public override int Read(byte[] buffer, int offset, int count)
    {
        ValidateBufferArguments(buffer, offset, count);
        return Read(buffer.AsSpan(offset, count));
    }

    /// <summary>Reads up to <c>buffer.Length</c> bytes; returns how many (0 at the end).</summary>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    public override int Read(Span<byte> buffer)
    {
        ThrowIfDisposed();
        long available = _length - _position;
        if (available <= 0)
            return 0;
        int n = (int)Math.Min(available, buffer.Length);
        _buffer.Window(_position, n, this).CopyTo(buffer);
        _position += n;
        return n;
    }

    /// <summary>Reads one byte, or returns -1 at the end.</summary>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    public override int ReadByte()
    {
        ThrowIfDisposed();
        if (_position >= _length)
            return -1;
        byte value = _buffer.ElementAt(_position, this);
        _position++;
        return value;
    }

    /// <summary>Reads synchronously; the task is already complete (faulted if the read threw).</summary>
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        ValidateBufferArguments(buffer, offset, count);
        return ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    /// <summary>Reads synchronously; the task is already complete (faulted if the read threw).</summary>
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
            return ValueTask.FromCanceled<int>(cancellationToken);
        try
        {
            return new ValueTask<int>(Read(buffer.Span));
        }
        catch (Exception e)
        {
            return ValueTask.FromException<int>(e);
        }
    }

    /// <summary>Writes <paramref name="count"/> bytes of <paramref name="buffer"/> from <paramref name="offset"/> at <see cref="Position"/>.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="buffer"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="offset"/> or <paramref name="count"/> is negative, or they do not fit <paramref name="buffer"/>.</exception>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    /// <exception cref="IOException">The stream would grow past <see cref="NativeArrayPool{T}.MaxLength"/>.</exception>
    public override void Write(byte[] buffer, int offset, int count)
    {
        ValidateBufferArguments(buffer, offset, count);
        Write(new ReadOnlySpan<byte>(buffer, offset, count));
    }

    /// <summary>
    /// Writes <paramref name="buffer"/> at <see cref="Position"/>, growing the stream (zero-filling any gap before the
    /// position) as needed. <paramref name="buffer"/> may be this stream's own memory (from
    /// <see cref="GetReadOnlySequence"/>): it is read as it was before the write, even when the write grows the stream.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    /// <exception cref="IOException">The stream would grow past <see cref="NativeArrayPool{T}.MaxLength"/>.</exception>
    /// <exception cref="InsufficientMemoryException">The pool could not grow the buffer; the stream is unchanged.</exception>
    public override void Write(ReadOnlySpan<byte> buffer)
    {
        ThrowIfDisposed();
        long end = _position + buffer.Length;
        if (end > NativeArrayPool<byte>.MaxLength)
            ThrowHelper.ThrowStreamTooLong(end);
        if (end > _length)
        {
            if (end > _buffer.Length)
                buffer = GrowFor(buffer, end);
            Extend(end);
        }
        buffer.CopyTo(_buffer.Window(_position, buffer.Length, this));
        _position = end;
    }

    /// <summary>Writes one byte at <see cref="Position"/>.</summary>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    /// <exception cref="IOException">The stream would grow past <see cref="NativeArrayPool{T}.MaxLength"/>.</exception>
    public override void WriteByte(byte value)
    {
        ThrowIfDisposed();
        if (_position >= _length)
        {
            if (_position >= NativeArrayPool<byte>.MaxLength)
                ThrowHelper.ThrowStreamTooLong(_position + 1);
            Extend(_position + 1);
        }
        _buffer.ElementAt(_position, this) = value;
        _position++;
    }

    /// <summary>Writes synchronously; the task is already complete (faulted if the write threw).</summary>
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        ValidateBufferArguments(buffer, offset, count);
        return WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    /// <summary>Writes synchronously; the task is already complete (faulted if the write threw).</summary>
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
            return ValueTask.FromCanceled(cancellationToken);
        try
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }
        catch (Exception e)
        {
            return ValueTask.FromException(e);
        }
    }

    /// <summary>
    /// Writes the bytes from <see cref="Position"/> to the end into <paramref name="destination"/>, straight from native
    /// memory (in pieces of at most 1 GiB), and moves <see cref="Position"/> to the end. The bytes are counted first,
    /// so <paramref name="destination"/> may be this stream (it then appends a copy of them, as with
    /// <see cref="MemoryStream"/>) or a stream that writes into it.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="destination"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bufferSize"/> is not positive.</exception>
    /// <exception cref="NotSupportedException"><paramref name="destination"/> cannot be written.</exception>
    /// <exception cref="ObjectDisposedException">This stream or <paramref name="destination"/> was disposed.</exception>
    public override void CopyTo(Stream destination, int bufferSize)
    {
        ValidateCopyToArguments(destination, bufferSize);
        ThrowIfDisposed();
        long start = _position;
        long remaining = _length - start;
        if (remaining <= 0)
            return;
        _position = _length;
        for (long done = 0; done < remaining;)
        {
            int piece = (int)Math.Min(remaining - done, NativeSequence.MaxSegmentLength);
            destination.Write(_buffer.Window(start + done, piece, this));
            done += piece;
        }
    }

    /// <summary>
    /// Writes the bytes from <see cref="Position"/> to the end into <paramref name="destination"/> asynchronously,
    /// straight from native memory, and moves <see cref="Position"/> to the end (at once, as <see cref="MemoryStream"/>
    /// does). <paramref name="destination"/> may be this stream (it then appends a copy of the bytes, as with
    /// <see cref="MemoryStream"/>) or a stream that writes into it. Otherwise do not grow or dispose this stream until
    /// the task completes.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="destination"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bufferSize"/> is not positive.</exception>
    /// <exception cref="NotSupportedException"><paramref name="destination"/> cannot be written.</exception>
    /// <exception cref="ObjectDisposedException">This stream or <paramref name="destination"/> was disposed.</exception>
    public override Task CopyToAsync(Stream destination, int bufferSize, CancellationToken cancellationToken)
    {
        ValidateCopyToArguments(destination, bufferSize);
        ThrowIfDisposed();
        if (cancellationToken.IsCancellationRequested)
            return Task.FromCanceled(cancellationToken);
        long start = _position;
        long remaining = _length - start;
        if (remaining <= 0)
            return Task.CompletedTask;
        _position = _length;
        return remaining <= NativeSequence.MaxSegmentLength
            ? destination.WriteAsync(new NativeMemoryManager<byte>(_buffer, start, (int)remaining, CopyWhat, this).Memory, cancellationToken).AsTask()
            : CopyPiecesAsync(start, remaining, destination, cancellationToken);
    }

    private async Task CopyPiecesAsync(long start, long remaining, Stream destination, CancellationToken cancellationToken)
    {
        for (long done = 0; done < remaining;)
        {
            // Each piece is taken from the buffer as it is now: a destination that writes into this stream may have
            // grown it, which gives back the memory a sequence built up front would point to.
            ThrowIfDisposed();
            int piece = (int)Math.Min(remaining - done, NativeSequence.MaxSegmentLength);
            await destination.WriteAsync(new NativeMemoryManager<byte>(_buffer, start + done, piece, CopyWhat, this).Memory, cancellationToken).ConfigureAwait(false);
            done += piece;
        }
    }

    /// <summary>
    /// Writes the whole stream, whatever <see cref="Position"/> is, into <paramref name="stream"/>. Position is
    /// unchanged. The length is read first, so <paramref name="stream"/> may be this stream: it then writes a copy of
    /// itself at its position, as <see cref="MemoryStream"/> does.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> is null.</exception>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    public void WriteTo(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ThrowIfDisposed();
        long length = _length; // writing into this stream itself grows _length, which would never be caught up
        long done = 0;
        // At least one write, as MemoryStream makes: writing 0 bytes still extends a destination positioned past its end.
        do
        {
            int piece = (int)Math.Min(length - done, NativeSequence.MaxSegmentLength);
            stream.Write(_buffer.Window(done, piece, this));
            done += piece;
        }
        while (done < length);
    }

    /// <summary>Copies the whole stream into a new array, whatever <see cref="Position"/> is.</summary>
    /// <exception cref="InvalidOperationException"><see cref="Length"/> exceeds <see cref="Array.MaxLength"/>; use <see cref="GetReadOnlySequence"/> or <see cref="CopyTo(Stream, int)"/>.</exception>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    public byte[] ToArray()
    {
        ThrowIfDisposed();
        if (_length > Array.MaxLength)
            ThrowHelper.ThrowTooManyForSpan(nameof(NativeMemoryStream), _length, "GetReadOnlySequence() or CopyTo");
        return _buffer.Window(0, (int)_length, this).ToArray();
    }

    /// <summary>
    /// The whole stream as a sequence (segments of at most 1 GiB), without copying. Valid until the stream grows or is
    /// disposed; reading it afterwards throws <see cref="ObjectDisposedException"/>.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    public ReadOnlySequence<byte> GetReadOnlySequence()
    {
        ThrowIfDisposed();
        return NativeSequence.Create(_buffer, _length, SequenceWhat, this);
    }

    /// <summary>Describes the stream for debugging; does not throw after disposal.</summary>
    public override string ToString() =>
        _disposed ? "NativeMemoryStream[disposed]" : $"NativeMemoryStream[Length={_length}, Position={_position}]";

    /// <summary>Returns the buffer to the pool. Calling it again does nothing.</summary>
    protected override void Dispose(bool disposing)
    {
        if (_disposed)
            return;
        _disposed = true;
        CollectionBuffer.Release(ref _buffer);
        base.Dispose(disposing);
    }

    /// <summary>Grows the length to <paramref name="end"/> (a write reaching past the end), zero-filling from the old end.</summary>
    private void Extend(long end)
    {
        EnsureCapacity(end);
        // Pooled memory is not zeroed on rent, so the gap between the old end and the write (or the whole new part,
        // for SetLength) must be cleared to read back as zeros, as MemoryStream's fresh arrays do.
        if (_position > _length)
            ClearRange(_length, _position - _length);
        _length = end;
    }

    /// <summary>
    /// Grows to hold <paramref name="needed"/> bytes and returns <paramref name="source"/>, read again from the grown
    /// buffer if it pointed into this stream's own (which the growth gives back).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ReadOnlySpan<byte> GrowFor(ReadOnlySpan<byte> source, long needed)
    {
        long offset = OwnMemory.ByteOffset(_buffer, source, this);
        Grow(needed);
        return offset < 0 ? source : OwnMemory.At(_buffer, offset, source.Length, this);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void EnsureCapacity(long needed)
    {
        if (needed > _buffer.Length)
            Grow(needed);
    }

    /// <summary>At least doubles, and never below 256 bytes, like <see cref="MemoryStream"/>; n bytes written cost O(n) growth.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Grow(long needed)
    {
        CollectionBuffer.Grow(_pool, ref _buffer, needed, this, MinimumGrowth);
        _resizes++;
    }

    // A range the stream's writer skipped: cleared without committing its whole pages, so a write far past the end
    // costs memory for what was written, not for the gap (an attacker-chosen offset must not reach the OOM killer).
    private void ClearRange(long start, long length) => _pool.ClearSparse(_buffer, start, length, this);

    string IMemoryOrigin.Name => nameof(NativeMemoryStream);

    int IMemoryOrigin.Epoch => _resizes;

    string IMemoryOrigin.DescribeEnd(int epoch)
    {
        if (epoch != _resizes)
            return "the NativeMemoryStream grew since (a write or SetLength past its capacity) or its Capacity was set, which moved its bytes to another buffer and gave the old one back to the pool. Call GetReadOnlySequence (or CopyToAsync) again after the last write.";
        if (_disposed)
            return "the NativeMemoryStream was disposed, which returned its buffer to the pool. Read the sequence before disposing the stream.";
        if (_pool.Core.IsDisposed)
            return "the pool the NativeMemoryStream rents from was disposed, which ended the stream's buffer. Dispose a pool only after the streams that use it.";
        return "the NativeMemoryStream's buffer was returned to its pool.";
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ThrowIfDisposed()
    {
        if (_disposed)
            ThrowHelper.ThrowCollectionDisposed(nameof(NativeMemoryStream));
    }
}
