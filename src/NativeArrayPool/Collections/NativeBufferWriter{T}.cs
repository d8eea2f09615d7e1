using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using NativeBuffers.Collections;
using NativeBuffers.Pooling;

namespace NativeBuffers;

/// <summary>
/// An <see cref="IBufferWriter{T}"/> whose buffer is native memory from a <see cref="NativeArrayPool{T}"/>: it
/// behaves like CommunityToolkit's <c>ArrayPoolBufferWriter&lt;T&gt;</c>, but holds more than 2 GiB and grows
/// by moving pages rather than copying them.
/// </summary>
/// <remarks>
/// <para>Semantics shared with <c>ArrayPoolBufferWriter&lt;T&gt;</c>: the buffer is rented up front (256 elements
/// unless told otherwise); <see cref="GetSpan"/>/<see cref="GetMemory"/> with a size hint of 0 mean 1, a negative
/// hint throws <see cref="ArgumentOutOfRangeException"/>, and the result covers all free capacity (here up to
/// <see cref="int.MaxValue"/> elements); <see cref="Advance"/> past the end throws <see cref="ArgumentException"/>;
/// <see cref="Clear"/> zeroes what was written, <see cref="ResetWrittenCount"/> does not.</para>
/// <para>Differences: counts are <see cref="long"/>; <see cref="WrittenSpan"/> and <see cref="WrittenMemory"/>
/// throw <see cref="InvalidOperationException"/> when more than <see cref="int.MaxValue"/> elements were written
/// (use <see cref="WrittenSequence"/>); after <see cref="Dispose"/> every member throws
/// <see cref="ObjectDisposedException"/>, <see cref="WrittenCount"/> and <see cref="ResetWrittenCount"/> included;
/// there is no finalizer, so a writer that is never disposed keeps its memory rented.</para>
/// <para>Growth at least doubles the capacity, through <see cref="NativeArrayPool{T}.Resize"/>. Spans,
/// memories and sequences handed out are valid until the writer next grows or is disposed; using a
/// <see cref="Memory{T}"/> or sequence after that throws <see cref="ObjectDisposedException"/>, a span is not
/// checked: the memory it points to went back to the pool (or its pages moved), so it reads other bytes.
/// <see cref="Write"/> accepts the writer's own data (<c>writer.Write(writer.WrittenSpan)</c>); the
/// <see cref="BuffersExtensions.Write{T}(IBufferWriter{T}, ReadOnlySpan{T})"/> extension, which code written against
/// <see cref="IBufferWriter{T}"/> calls, does not when it must grow the writer (see <see cref="Write"/>).
/// docs/collections.md has the details.</para>
/// <para>Thread-safety: none; one writer at a time, as with any <see cref="IBufferWriter{T}"/>.</para>
/// </remarks>
/// <example>
/// <code>
/// using var writer = new NativeBufferWriter&lt;byte&gt;();
/// JsonSerializer.Serialize(new Utf8JsonWriter(writer), document);
/// await pipe.Writer.WriteAsync(writer.WrittenMemory);
/// </code>
/// </example>
/// <typeparam name="T">An unmanaged element type.</typeparam>
[DebuggerDisplay("{ToString(),nq}")]
public sealed class NativeBufferWriter<T> : IBufferWriter<T>, IDisposable, IMemoryOrigin where T : unmanaged
{
    /// <summary>The capacity rented when none is given: 256 elements, as <c>ArrayPoolBufferWriter&lt;T&gt;</c>.</summary>
    public const int DefaultInitialCapacity = 256;

    private readonly NativeArrayPool<T> _pool;
    private NativeBuffer<T> _buffer;
    private long _index;
    private NativeMemoryManager<T>? _manager; // the last one made: GetMemory reuses it while it covers the request
    private int _growths; // the memories handed out record it, to tell whether growth or disposal made them stale
    private bool _disposed;

    // What the user holds when a memory or sequence from this writer is used stale (see IMemoryOrigin).
    private static readonly string s_memoryWhat = $"A Memory<{typeof(T).Name}> from NativeBufferWriter<{typeof(T).Name}>.WrittenMemory or GetMemory";
    private static readonly string s_sequenceWhat = $"A ReadOnlySequence<{typeof(T).Name}> from NativeBufferWriter<{typeof(T).Name}>.WrittenSequence";

    /// <summary>Creates a writer with <see cref="DefaultInitialCapacity"/> elements rented from <paramref name="pool"/>.</summary>
    /// <param name="pool">The pool to rent from; <c>null</c> for <see cref="NativeArrayPool{T}.Shared"/>.</param>
    /// <exception cref="ObjectDisposedException"><paramref name="pool"/> was disposed.</exception>
    public NativeBufferWriter(NativeArrayPool<T>? pool = null) : this(DefaultInitialCapacity, pool)
    {
    }

    /// <summary>Creates a writer with at least <paramref name="initialCapacity"/> elements rented from <paramref name="pool"/>.</summary>
    /// <param name="initialCapacity">Elements to rent up front.</param>
    /// <param name="pool">The pool to rent from; <c>null</c> for <see cref="NativeArrayPool{T}.Shared"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="initialCapacity"/> is negative or larger than <see cref="NativeArrayPool{T}.MaxLength"/>.</exception>
    /// <exception cref="ObjectDisposedException"><paramref name="pool"/> was disposed.</exception>
    public NativeBufferWriter(long initialCapacity, NativeArrayPool<T>? pool = null)
    {
        _pool = pool ?? NativeArrayPool<T>.Shared;
        _buffer = _pool.Rent(initialCapacity);
    }

    /// <summary>The pool this writer rents from.</summary>
    public NativeArrayPool<T> Pool => _pool;

    /// <summary>The number of elements written (advanced over) so far.</summary>
    /// <exception cref="ObjectDisposedException">The writer was disposed.</exception>
    public long WrittenCount
    {
        get
        {
            ThrowIfDisposed();
            return _index;
        }
    }

    /// <summary>The length of the rented buffer.</summary>
    /// <exception cref="ObjectDisposedException">The writer was disposed.</exception>
    public long Capacity
    {
        get
        {
            ThrowIfDisposed();
            return _buffer.Length;
        }
    }

    /// <summary>Elements that can be written before the writer must grow: <see cref="Capacity"/> − <see cref="WrittenCount"/>.</summary>
    /// <exception cref="ObjectDisposedException">The writer was disposed.</exception>
    public long FreeCapacity
    {
        get
        {
            ThrowIfDisposed();
            return _buffer.Length - _index;
        }
    }

    /// <summary>The data written so far, valid until the writer grows, is cleared or is disposed.</summary>
    /// <exception cref="InvalidOperationException">More than <see cref="int.MaxValue"/> elements were written; use <see cref="WrittenSequence"/>.</exception>
    /// <exception cref="ObjectDisposedException">The writer was disposed.</exception>
    public ReadOnlySpan<T> WrittenSpan
    {
        get
        {
            ThrowIfDisposed();
            if (_index > int.MaxValue)
                ThrowHelper.ThrowTooManyForSpan(nameof(NativeBufferWriter<T>), _index, nameof(WrittenSequence));
            return _buffer.Window(0, (int)_index, this);
        }
    }

    /// <summary>The data written so far. Reading it after the writer grows or is disposed throws <see cref="ObjectDisposedException"/>.</summary>
    /// <exception cref="InvalidOperationException">More than <see cref="int.MaxValue"/> elements were written; use <see cref="WrittenSequence"/>.</exception>
    /// <exception cref="ObjectDisposedException">The writer was disposed.</exception>
    public ReadOnlyMemory<T> WrittenMemory
    {
        get
        {
            ThrowIfDisposed();
            if (_index > int.MaxValue)
                ThrowHelper.ThrowTooManyForSpan(nameof(NativeBufferWriter<T>), _index, nameof(WrittenSequence));
            return MemoryOf(0, (int)_index);
        }
    }

    /// <summary>
    /// Everything written so far as a sequence of segments of at most 2^30 elements: the way to hand more than
    /// 2 GiB to a consumer. Reading it after the writer grows or is disposed throws <see cref="ObjectDisposedException"/>.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The writer was disposed.</exception>
    public ReadOnlySequence<T> WrittenSequence
    {
        get
        {
            ThrowIfDisposed();
            return NativeSequence.Create(_buffer, _index, s_sequenceWhat, this);
        }
    }

    /// <summary>Zeroes the written data and sets <see cref="WrittenCount"/> to 0. The capacity is kept.</summary>
    /// <exception cref="ObjectDisposedException">The writer was disposed.</exception>
    public void Clear()
    {
        ThrowIfDisposed();
        _buffer.Clear(0, _index, this);
        _index = 0;
    }

    /// <summary>Sets <see cref="WrittenCount"/> to 0 without zeroing the data: the cheap way to reuse the writer.</summary>
    /// <exception cref="ObjectDisposedException">The writer was disposed.</exception>
    public void ResetWrittenCount()
    {
        ThrowIfDisposed();
        _index = 0;
    }

    /// <summary>Marks <paramref name="count"/> more elements, written into the last span or memory handed out, as written.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is negative.</exception>
    /// <exception cref="ArgumentException"><paramref name="count"/> is more than <see cref="FreeCapacity"/>.</exception>
    /// <exception cref="ObjectDisposedException">The writer was disposed.</exception>
    public void Advance(int count)
    {
        ThrowIfDisposed();
        if (count < 0)
            ThrowHelper.ThrowNegativeLength(nameof(count), count);
        if (count > _buffer.Length - _index)
            ThrowHelper.ThrowAdvancedTooFar(count, _buffer.Length - _index);
        _index += count;
    }

    /// <summary>
    /// A span over the free capacity, at least <paramref name="sizeHint"/> elements long (at least 1 when it is 0)
    /// and at most <see cref="int.MaxValue"/>. Grows the buffer if needed. Valid until the next call that grows the
    /// writer, or its disposal.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="sizeHint"/> is negative.</exception>
    /// <exception cref="ObjectDisposedException">The writer was disposed.</exception>
    /// <exception cref="InsufficientMemoryException">The pool could not grow the buffer; the writer is unchanged.</exception>
    public Span<T> GetSpan(int sizeHint = 0)
    {
        EnsureFree(sizeHint);
        return _buffer.Window(_index, FreeWindow(), this);
    }

    /// <summary>
    /// A memory over the free capacity, at least <paramref name="sizeHint"/> elements long (at least 1 when it is 0)
    /// and at most <see cref="int.MaxValue"/>. Grows the buffer if needed. Using it after the writer grows again or
    /// is disposed throws <see cref="ObjectDisposedException"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="sizeHint"/> is negative.</exception>
    /// <exception cref="ObjectDisposedException">The writer was disposed.</exception>
    /// <exception cref="InsufficientMemoryException">The pool could not grow the buffer; the writer is unchanged.</exception>
    public Memory<T> GetMemory(int sizeHint = 0)
    {
        EnsureFree(sizeHint);
        return MemoryOf(_index, FreeWindow());
    }

    /// <summary>
    /// Appends <paramref name="source"/>: copies it after the written data and advances over it, growing at most once.
    /// <paramref name="source"/> may be the writer's own data (<c>writer.Write(writer.WrittenSpan)</c>): it is read
    /// as it was before the growth, as <see cref="ArrayBufferWriter{T}"/> gives.
    /// </summary>
    /// <remarks>
    /// On a variable of this type, <c>writer.Write(span)</c> calls this method rather than the
    /// <see cref="BuffersExtensions.Write{T}(IBufferWriter{T}, ReadOnlySpan{T})"/> extension. The extension, which
    /// code written against <see cref="IBufferWriter{T}"/> gets, fills the free space, then asks
    /// <see cref="GetSpan"/> for more; if that grows the writer, the rest of a source in the writer's own memory is
    /// read from a buffer that was freed or whose pages moved away: wrong bytes, or an access violation where the
    /// old pages were unmapped. Through the interface, copy such a source first.
    /// </remarks>
    /// <exception cref="ObjectDisposedException">The writer was disposed.</exception>
    /// <exception cref="InsufficientMemoryException">The pool could not grow the buffer; the writer is unchanged.</exception>
    public void Write(ReadOnlySpan<T> source)
    {
        ThrowIfDisposed();
        if (source.Length > _buffer.Length - _index)
            source = GrowFor(source);
        source.CopyTo(_buffer.Window(_index, source.Length, this));
        _index += source.Length;
    }

    /// <summary>Returns the buffer to the pool. Calling it again does nothing.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _manager = null;
        _index = 0;
        CollectionBuffer.Release(ref _buffer);
    }

    /// <summary>For <c>char</c>, the text written so far (as <c>ArrayPoolBufferWriter&lt;char&gt;</c> does); otherwise a description.</summary>
    public override string ToString()
    {
        if (_disposed)
            return $"NativeBufferWriter<{typeof(T).Name}>[disposed]";
        if (typeof(T) == typeof(char) && _index <= int.MaxValue / 2 && _buffer.IsValid)
            return new string(System.Runtime.InteropServices.MemoryMarshal.Cast<T, char>(_buffer.Window(0, (int)_index, this)));
        return $"NativeBufferWriter<{typeof(T).Name}>[{_index}]";
    }

    private int FreeWindow() => (int)Math.Min(_buffer.Length - _index, int.MaxValue);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void EnsureFree(int sizeHint)
    {
        ThrowIfDisposed();
        if (sizeHint < 0)
            ThrowHelper.ThrowNegativeLength(nameof(sizeHint), sizeHint);
        if (sizeHint == 0)
            sizeHint = 1;
        if (sizeHint > _buffer.Length - _index)
            Grow(sizeHint);
    }

    /// <summary>Grows so <paramref name="sizeHint"/> more elements fit: at least doubling, so n elements written cost O(n) growth.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Grow(int sizeHint)
    {
        long needed = _index + sizeHint;
        long max = NativeArrayPool<T>.MaxLength;
        if (needed > max)
            ThrowHelper.ThrowCollectionTooLarge(nameof(NativeBufferWriter<T>), needed, max);
        CollectionBuffer.Grow(_pool, ref _buffer, needed, this);
        _growths++;
        _manager = null;
    }

    /// <summary>
    /// Grows so <paramref name="source"/> fits after the written data and returns it, read again from the grown buffer
    /// if it pointed into the writer's own (which the growth gives back).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ReadOnlySpan<T> GrowFor(ReadOnlySpan<T> source)
    {
        long offset = OwnMemory.ByteOffset(_buffer, source, this);
        Grow(source.Length);
        return offset < 0 ? source : OwnMemory.At(_buffer, offset, source.Length, this);
    }

    /// <summary>Elements [start, start+length) as a Memory, reusing the last manager while it covers them.</summary>
    private Memory<T> MemoryOf(long start, int length)
    {
        NativeMemoryManager<T>? manager = _manager;
        if (manager is null || !manager.Covers(_buffer, start, length))
        {
            // Cover as much of the buffer from here as one Memory can, so later requests reuse this manager.
            int window = (int)Math.Min(_buffer.Length - start, int.MaxValue);
            _manager = manager = new NativeMemoryManager<T>(_buffer, start, window, s_memoryWhat, this);
        }
        return manager.Slice(start, length);
    }

    string IMemoryOrigin.Name => $"NativeBufferWriter<{typeof(T).Name}>";

    int IMemoryOrigin.Epoch => _growths;

    string IMemoryOrigin.DescribeEnd(int epoch)
    {
        string writer = $"NativeBufferWriter<{typeof(T).Name}>";
        if (epoch != _growths)
            return $"the {writer} grew since, which moved its data to a bigger buffer and gave the old one back to the pool. Take WrittenMemory, WrittenSequence or GetMemory again after the last write that can grow the writer.";
        if (_disposed)
            return $"the {writer} was disposed, which returned its buffer to the pool. Use the writer's memory before disposing the writer.";
        if (_pool.Core.IsDisposed)
            return $"the pool the {writer} rents from was disposed, which ended the writer's buffer. Dispose a pool only after the writers that use it.";
        return $"the {writer}'s buffer was returned to its pool.";
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ThrowIfDisposed()
    {
        if (_disposed)
            ThrowHelper.ThrowCollectionDisposed(nameof(NativeBufferWriter<T>));
    }
}
