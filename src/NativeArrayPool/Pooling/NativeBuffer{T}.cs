using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using NativeBuffers.Arenas;
using NativeBuffers.Os;
using NativeBuffers.Pooling;

namespace NativeBuffers;

/// <summary>
/// A lease on native memory rented from a <see cref="NativeArrayPool{T}"/>: <see cref="Length"/> elements of
/// <typeparamref name="T"/>, contiguous, which never move while the lease is valid.
/// </summary>
/// <remarks>
/// <para>Ownership: whoever holds the lease owns the memory until it goes back with
/// <see cref="NativeArrayPool{T}.Return"/> or <see cref="Dispose"/>, or is replaced by
/// <see cref="NativeArrayPool{T}.Resize"/>. A lease is a small value: copies refer to the same memory, and once
/// one copy is returned or resized, all of them are stale. Every accessor checks that the lease is still valid
/// and throws <see cref="ObjectDisposedException"/> if not. Spans and pointers taken earlier are not checked:
/// stop using them when the lease ends.</para>
/// <para>Contents are not cleared on rent: a buffer may hold a previous tenant's data (as with ArrayPool),
/// unless the pool was made with <see cref="NativePoolOptions.ZeroOnRent"/>.</para>
/// <para>Thread-safety: the memory may be read and written from any thread; one lease must not be returned or
/// resized from two threads at once (doing so is detected: one of them throws).</para>
/// </remarks>
[DebuggerDisplay("{ToString(),nq}")]
public readonly struct NativeBuffer<T> : IDisposable where T : unmanaged
{
    // 24 bytes with one reference: the pool is reached through the record (its arena's pool), not held. A lease
    // returned from a method that does not inline goes through memory the callee cannot prove is on the stack, so
    // each reference field costs a checked write barrier there; a second field for the pool cost one more per Rent.
    // Only default has no record: an empty lease holds its pool's EmptyLease record.
    internal readonly Allocation? _allocation;
    internal readonly long _length;
    internal readonly int _generation;

    internal NativeBuffer(Allocation allocation, long length, int generation)
    {
        _allocation = allocation;
        _length = length;
        _generation = generation;
    }

    /// <summary>The pool that rented this lease; null for <c>default</c>.</summary>
    internal PoolCore? Core => _allocation is null ? null : ((PoolArena)_allocation.Arena).Pool;

    /// <summary>The number of elements; at least what was asked for when it was rented or resized.</summary>
    public long Length => _length;

    /// <summary>True for a lease of no elements: <c>default</c>, or rented with length 0.</summary>
    public bool IsEmpty => _length == 0;

    /// <summary>
    /// True while the lease may be used: it was rented, and not yet returned or replaced by a resize.
    /// An empty lease from <c>Rent(0)</c> is valid; <c>default</c> is not.
    /// </summary>
    public bool IsValid => _allocation is not null && _allocation.Generation == _generation;

    /// <summary>The whole buffer as a span.</summary>
    /// <exception cref="ObjectDisposedException">The lease was returned or resized.</exception>
    /// <exception cref="InvalidOperationException"><see cref="Length"/> exceeds <see cref="int.MaxValue"/>; use <see cref="AsSpan(long, int)"/>.</exception>
    public Span<T> AsSpan()
    {
        nint address = CheckedAddress();
        if (_length > int.MaxValue)
            ThrowHelper.ThrowSpanTooLong(_length);
        return MemoryAccess.AsSpan<T>(address, (int)_length);
    }

    /// <summary>A window of <paramref name="length"/> elements starting at element <paramref name="start"/>.</summary>
    /// <exception cref="ObjectDisposedException">The lease was returned or resized.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The window does not lie inside the buffer.</exception>
    public Span<T> AsSpan(long start, int length) => Window(start, length, holder: null);

    /// <summary>
    /// The whole buffer as a <see cref="Memory{T}"/>, for APIs that take memory rather than spans
    /// (<see cref="Stream.ReadAsync(Memory{byte}, CancellationToken)"/>, <see cref="RandomAccess"/>, sockets, pipelines).
    /// Each call allocates one small object (the <see cref="System.Buffers.MemoryManager{T}"/> behind the memory).
    /// </summary>
    /// <remarks>
    /// The memory does not own the lease: the lease's holder still returns it. Every use of the memory
    /// (<see cref="Memory{T}.Span"/>, <see cref="Memory{T}.Pin"/>) checks the lease, so once it is returned or
    /// resized, or its pool is disposed, they throw <see cref="ObjectDisposedException"/> instead of reaching memory
    /// that may belong to someone else. Spans and pins taken before that are not checked: do not return the lease
    /// while an operation given the memory is in flight. <see cref="Memory{T}.Pin"/> takes no GC handle (the memory
    /// never moves). For an <see cref="System.Buffers.IMemoryOwner{T}"/>, see <see cref="NativeArrayPool{T}.RentOwner"/>.
    /// </remarks>
    /// <exception cref="ObjectDisposedException">The lease was returned or resized.</exception>
    /// <exception cref="InvalidOperationException"><see cref="Length"/> exceeds <see cref="int.MaxValue"/>; use <see cref="AsMemory(long, int)"/>.</exception>
    public Memory<T> AsMemory()
    {
        CheckedAddress();
        if (_length > int.MaxValue)
            ThrowHelper.ThrowSpanTooLong(_length, "Memory<T>", nameof(AsMemory));
        return _length == 0 ? Memory<T>.Empty : new NativeMemoryManager<T>(this, 0, (int)_length, NativeMemoryManager<T>.LeaseMemory).Memory;
    }

    /// <summary>
    /// A window of <paramref name="length"/> elements starting at element <paramref name="start"/> as a
    /// <see cref="Memory{T}"/>: how a buffer longer than <see cref="int.MaxValue"/> elements reaches APIs that take
    /// memory. Checked on every use like <see cref="AsMemory()"/>; each call allocates one small object.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The lease was returned or resized.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The window does not lie inside the buffer.</exception>
    public Memory<T> AsMemory(long start, int length)
    {
        CheckedAddress();
        if ((ulong)start > (ulong)_length || (ulong)length > (ulong)(_length - start))
            ThrowHelper.ThrowWindowOutside(nameof(start), start, length, _length, "buffer");
        return length == 0 ? Memory<T>.Empty : new NativeMemoryManager<T>(this, start, length, NativeMemoryManager<T>.LeaseMemory).Memory;
    }

    /// <summary>A reference to the element at <paramref name="index"/>.</summary>
    /// <exception cref="ObjectDisposedException">The lease was returned or resized.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside [0, Length).</exception>
    public ref T this[long index]
    {
        get
        {
            nint address = CheckedAddress();
            if ((ulong)index >= (ulong)_length)
                ThrowHelper.ThrowArgumentOutOfRange(nameof(index), index, $"The index is outside the buffer of {_length} elements.");
            return ref MemoryAccess.AsRef<T>(address + (nint)(index * Unsafe.SizeOf<T>()));
        }
    }

    /// <summary>
    /// A pointer to the first element (null for an empty lease). The memory does not move while the lease is
    /// valid, so no pinning is needed; the pointer dangles once the lease ends.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The lease was returned or resized.</exception>
    public unsafe T* Pointer => MemoryAccess.AsPointer<T>(CheckedAddress());

    /// <summary>
    /// Ends the lease: returns the buffer to the pool that rented it, like <see cref="NativeArrayPool{T}.Return"/>.
    /// Calling it on a lease that already ended (returned, resized, disposed, or ended by its pool's disposal) does
    /// nothing, as <see cref="IDisposable"/> promises, so <c>using var b = pool.Rent(n); … pool.Return(b);</c> is
    /// safe: the generation has moved on, so no later lease of the same memory can be affected. Such calls are counted
    /// in <see cref="NativePoolStatistics.RedundantDisposes"/>; an explicit second <c>Return</c> still throws.
    /// Does nothing for <c>default</c>.
    /// </summary>
    /// <remarks>A lease that was out when its pool was disposed keeps its memory mapped until this call (or Return).</remarks>
    public void Dispose()
    {
        if (_length != 0) // default and empty leases hold no memory
            Core!.DisposeLease(_allocation!, _generation);
    }

    /// <summary>
    /// Describes the lease for debugging: its length, and "(returned)" once it was returned or resized, or
    /// "(pool disposed)" once its pool was disposed. Does not throw for a stale lease.
    /// </summary>
    public override string ToString() =>
        Core is not { } core ? $"NativeBuffer<{typeof(T).Name}>[default]"
        : $"NativeBuffer<{typeof(T).Name}>[{_length}]{(IsValid ? "" : core.IsDisposed ? " (pool disposed)" : " (returned)")}";

    // What the collections need from memory, as members of the lease they own, so that only the pool's layer (and
    // below) works with addresses. Each checks the lease unless its name says otherwise; none checks indexes: the
    // caller has checked them against its own count, as the collections do before every access. Clear and CopyWithin
    // of no elements do nothing, not even the check. The holder is the collection that owns the lease on the user's
    // behalf: when the lease has ended (its pool was disposed), the exception names the collection and what happened
    // to it, not a lease the user never held.

    /// <summary>
    /// <see cref="AsSpan(long, int)"/> for a <paramref name="holder"/> that owns the lease (null: the user holds it).
    /// </summary>
    /// <exception cref="ObjectDisposedException">The lease has ended; the message names the holder.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The window does not lie inside the buffer.</exception>
    internal Span<T> Window(long start, int length, IMemoryOrigin? holder)
    {
        nint address = CheckedAddress(holder);
        if ((ulong)start > (ulong)_length || (ulong)length > (ulong)(_length - start))
            ThrowHelper.ThrowWindowOutside(nameof(start), start, length, _length, "buffer");
        return MemoryAccess.AsSpan<T>(address + (nint)(start * Unsafe.SizeOf<T>()), length);
    }

    /// <summary>A reference to element <paramref name="index"/>, whose bounds the caller has checked.</summary>
    /// <exception cref="ObjectDisposedException">The lease was returned or resized.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ref T ElementAt(long index, IMemoryOrigin? holder = null) => ref MemoryAccess.ElementAt<T>(CheckedAddress(holder), index);

    /// <summary>
    /// A reference to element <paramref name="index"/> without the lease check, for a reader that checked the lease
    /// when it began and whose owner alone can end it (<see cref="NativeList{T}.Enumerator"/>, which notices the
    /// owner's changes by its version). The lease must not be empty.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ref T UncheckedElementAt(long index) => ref MemoryAccess.ElementAt<T>(_allocation!.Address, index);

    /// <summary>Zeroes elements [<paramref name="start"/>, <paramref name="start"/>+<paramref name="length"/>), which the caller has checked lie inside.</summary>
    /// <exception cref="ObjectDisposedException">The lease was returned or resized.</exception>
    internal void Clear(long start, long length, IMemoryOrigin holder)
    {
        if (length <= 0)
            return;
        nint address = CheckedAddress(holder);
        MemoryAccess.Clear(address + (nint)(start * Unsafe.SizeOf<T>()), (nuint)(length * Unsafe.SizeOf<T>()));
    }

    /// <summary>
    /// Copies <paramref name="length"/> elements from index <paramref name="from"/> to index <paramref name="to"/>
    /// inside the buffer, as memmove does (the ranges may overlap); the caller has checked both lie inside.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The lease was returned or resized.</exception>
    internal void CopyWithin(long from, long to, long length, IMemoryOrigin holder)
    {
        if (length <= 0)
            return;
        nint address = CheckedAddress(holder);
        nint size = Unsafe.SizeOf<T>();
        MemoryAccess.CopyWithin(address + (nint)from * size, address + (nint)to * size, (nuint)(length * size));
    }

    /// <summary>
    /// Where <paramref name="span"/> starts in this buffer, in bytes; -1 when it does not start inside it (or either
    /// is empty). A span that starts inside is taken to lie inside.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The lease was returned or resized.</exception>
    internal long ByteOffsetOf(ReadOnlySpan<T> span, IMemoryOrigin holder)
    {
        if (span.IsEmpty || IsEmpty)
            return -1;
        nuint offset = (nuint)(MemoryAccess.AddressOf(span) - CheckedAddress(holder));
        return offset < (nuint)_length * (nuint)Unsafe.SizeOf<T>() ? (long)offset : -1;
    }

    /// <summary>The <paramref name="length"/> elements at <paramref name="byteOffset"/> bytes in, a place <see cref="ByteOffsetOf"/> found inside.</summary>
    /// <exception cref="ObjectDisposedException">The lease was returned or resized.</exception>
    internal ReadOnlySpan<T> AtByteOffset(long byteOffset, int length, IMemoryOrigin holder) =>
        MemoryAccess.AsSpan<T>(CheckedAddress(holder) + (nint)byteOffset, length);

    /// <summary>The address of element 0 (0 for an empty lease), if the lease is still valid.</summary>
    /// <exception cref="ObjectDisposedException">The lease was returned or resized.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal nint CheckedAddress()
    {
        if (!TryGetAddress(out nint address))
            ThrowHelper.ThrowStaleLease(typeof(T).Name, Core!.IsDisposed);
        return address;
    }

    /// <summary>
    /// <see cref="CheckedAddress()"/> for a <paramref name="holder"/> that owns the lease on the user's behalf (a
    /// collection), whose name and fate the exception gives; null when the user holds the lease.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The lease has ended.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal nint CheckedAddress(IMemoryOrigin? holder)
    {
        // A collection never holds default while it is alive: default is the lease it released (Dispose), not address 0.
        if (!TryGetAddress(out nint address) || (holder is not null && _allocation is null))
            ThrowEnded(holder);
        return address;
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowEnded(IMemoryOrigin? holder)
    {
        if (holder is not null)
            ThrowHelper.ThrowHolderEnded(holder.Name, holder.DescribeEnd(holder.Epoch));
        ThrowHelper.ThrowStaleLease(typeof(T).Name, Core!.IsDisposed);
    }

    /// <summary>The address of element 0 (0 for an empty or default lease); false once the lease has ended.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool TryGetAddress(out nint address)
    {
        Allocation? allocation = _allocation;
        if (allocation is null)
        {
            address = 0;
            return true;
        }
        // Address first, then the generation: a return retires the generation before the arena recycles the record
        // (address 0) or a resize moves it, so an address read before an unchanged generation is still this lease's.
        // The acquire of the first read keeps the second from being read ahead of it.
        address = Volatile.Read(ref allocation.Address);
        return Volatile.Read(ref allocation.Generation) == _generation;
    }
}
