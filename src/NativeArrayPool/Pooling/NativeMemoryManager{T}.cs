using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using NativeBuffers.Os;

namespace NativeBuffers.Pooling;

/// <summary>
/// A <see cref="MemoryManager{T}"/> over a window of a lease: what turns native memory into a
/// <see cref="Memory{T}"/>. Every access checks that the lease is still valid, so a <see cref="Memory{T}"/> kept past
/// a resize or a return throws <see cref="ObjectDisposedException"/> instead of reaching memory that now belongs to
/// someone else, with a message that names what the user held and what ended it.
/// </summary>
/// <remarks>
/// <para>Two kinds. A view (<see cref="NativeBuffer{T}.AsMemory()"/>, a writer's or a stream's memory and sequences)
/// does not own the lease: whoever rented it returns it, and <see cref="Dispose(bool)"/> does nothing. An owner
/// (<see cref="NativeArrayPool{T}.RentOwner"/>) is the <see cref="IMemoryOwner{T}"/> of its lease: its first Dispose
/// returns the lease, later ones do nothing, and its <see cref="Memory"/> throws once it is disposed.</para>
/// <para>Pinning costs nothing: leased memory never moves, so <see cref="Pin"/> hands out the pointer with no GC
/// handle, and <see cref="Unpin"/> has nothing to undo. The window is at most <see cref="int.MaxValue"/>
/// elements (what a <see cref="Memory{T}"/> can address); larger leases are covered by several managers.</para>
/// <para>Thread-safety: safe to use from any thread while the lease is valid; an owner's Dispose may race with
/// itself (one of them returns the lease) and with users of its memory (who then throw).</para>
/// </remarks>
[DebuggerDisplay("{ToString(),nq}")]
internal sealed class NativeMemoryManager<T> : MemoryManager<T> where T : unmanaged
{
    private const int View = 0, Owning = 1, OwnerDisposed = 2;

    private readonly NativeBuffer<T> _lease;
    private readonly long _start;
    private readonly int _length;
    private readonly int _originEpoch;
    private readonly string _what; // the sentence's subject when the memory is used stale: what the user held
    private readonly IMemoryOrigin? _origin;
    private int _state;

    /// <summary>
    /// A view of elements [<paramref name="start"/>, <paramref name="start"/>+<paramref name="length"/>) of
    /// <paramref name="lease"/>, which the caller has checked and which the window lies inside.
    /// </summary>
    /// <param name="lease">The lease to view, valid now.</param>
    /// <param name="start">The window's first element.</param>
    /// <param name="length">The window's length.</param>
    /// <param name="what">What the user holds, as the subject of a sentence: "A Memory from NativeBuffer&lt;T&gt;.AsMemory".</param>
    /// <param name="origin">The writer or stream that handed the memory out, asked what ended it; null for a lease's own memory.</param>
    public NativeMemoryManager(NativeBuffer<T> lease, long start, int length, string what, IMemoryOrigin? origin = null)
        : this(lease, start, length, what, origin, View)
    {
    }

    private NativeMemoryManager(NativeBuffer<T> lease, long start, int length, string what, IMemoryOrigin? origin, int state)
    {
        Debug.Assert((ulong)start <= (ulong)lease.Length && (ulong)length <= (ulong)(lease.Length - start));
        _lease = lease;
        _start = start;
        _length = length;
        _what = what;
        _origin = origin;
        _originEpoch = origin?.Epoch ?? 0;
        _state = state;
    }

    /// <summary>What the user holds when the memory came from <see cref="NativeBuffer{T}.AsMemory()"/>.</summary>
    public static readonly string LeaseMemory = $"A Memory<{typeof(T).Name}> from NativeBuffer<{typeof(T).Name}>.AsMemory";

    private static readonly string s_ownerMemory =
        $"A Memory<{typeof(T).Name}> from an IMemoryOwner<{typeof(T).Name}> that NativeArrayPool<{typeof(T).Name}>.RentOwner made";

    /// <summary>The owner of <paramref name="lease"/> (just rented), over its first <paramref name="length"/> elements.</summary>
    public static NativeMemoryManager<T> Owner(NativeBuffer<T> lease, int length) => new(lease, 0, length, s_ownerMemory, null, Owning);

    /// <summary>The first element of the window, as an index into the lease.</summary>
    public long Start => _start;

    /// <summary>The number of elements in the window.</summary>
    public int Length => _length;

    /// <summary>
    /// The whole window as a <see cref="Memory{T}"/>. A view's does not touch the memory (writers slice it before
    /// they write); an owner's throws <see cref="ObjectDisposedException"/> once the owner is disposed or its lease
    /// ended, as <see cref="IMemoryOwner{T}.Memory"/> does for <see cref="MemoryPool{T}"/>'s owners.
    /// </summary>
    public override Memory<T> Memory
    {
        get
        {
            if (_state != View)
                _ = Address();
            return CreateMemory(_length);
        }
    }

    /// <summary>True if this manager views <paramref name="lease"/> (the same rental, not a stale one) and its window holds [start, start+length).</summary>
    public bool Covers(NativeBuffer<T> lease, long start, int length) =>
        lease._allocation == _lease._allocation && lease._generation == _lease._generation
        && start >= _start && start + length <= _start + _length;

    /// <summary>Elements [start, start+length) of the lease, as a slice of this manager's memory. Call <see cref="Covers"/> first.</summary>
    public Memory<T> Slice(long start, int length) => CreateMemory(_length).Slice((int)(start - _start), length);

    /// <inheritdoc/>
    /// <exception cref="ObjectDisposedException">The lease was returned or resized, or the owner disposed.</exception>
    public override Span<T> GetSpan() => MemoryAccess.AsSpan<T>(Address(), _length);

    /// <inheritdoc/>
    /// <exception cref="ObjectDisposedException">The lease was returned or resized, or the owner disposed.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="elementIndex"/> is outside [0, Length].</exception>
    public override MemoryHandle Pin(int elementIndex = 0)
    {
        if ((uint)elementIndex > (uint)_length)
            ThrowHelper.ThrowArgumentOutOfRange(nameof(elementIndex), elementIndex, $"The index is outside the memory of {_length} elements.");
        return MemoryAccess.Handle(Address() + (nint)elementIndex * Unsafe.SizeOf<T>());
    }

    /// <inheritdoc/>
    public override void Unpin()
    {
        // Native memory does not move: pinning took nothing that needs giving back.
    }

    /// <summary>An owner's first call returns its lease; a view's, and any later call, does nothing.</summary>
    protected override void Dispose(bool disposing)
    {
        if (Interlocked.CompareExchange(ref _state, OwnerDisposed, Owning) == Owning)
        {
            // Dispose, not Return: a lease that its pool's disposal ended still holds its memory until now.
            _lease.Dispose();
        }
    }

    /// <summary>Describes the window for debugging; does not throw when stale.</summary>
    public override string ToString()
    {
        string kind = _state == View ? "view" : "owner";
        string state = _state == OwnerDisposed ? " (disposed)"
            : _lease.IsValid ? ""
            : _lease.Core!.IsDisposed ? " (pool disposed)" : " (stale)";
        return $"NativeMemoryManager<{typeof(T).Name}>[{_length}] {kind}{state}";
    }

    /// <summary>The address of the window's first element, if the lease is still valid.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private nint Address()
    {
        if (!_lease.TryGetAddress(out nint address) || _state == OwnerDisposed)
            ThrowStale();
        return address + (nint)_start * Unsafe.SizeOf<T>();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowStale()
    {
        string name = typeof(T).Name;
        string end;
        if (_state == OwnerDisposed)
            end = $"the owner was disposed, which returned its buffer to the pool. Keep the owner undisposed until you are done with its Memory, and rent a new one for new work.";
        else if (_origin is not null)
            end = _origin.DescribeEnd(_originEpoch);
        else if (_lease.Core!.IsDisposed)
            end = $"the pool that rented its buffer was disposed, which ends everything rented from it. Rent from a pool that outlives the work.";
        else if (_state == Owning)
            end = $"its buffer was returned to the pool by other means than the owner's Dispose. Let only the owner's Dispose return it.";
        else
            end = $"the NativeBuffer<{name}> it views was returned to its pool or replaced by Resize (which ends every copy of that lease). Take memory with AsMemory from the lease that Rent or Resize gave you last, and use it only while that lease is out.";
        ThrowHelper.ThrowStaleMemoryView($"Memory<{name}>", $"{_what} is no longer valid: {end}");
    }
}
