using System.Buffers;
using System.Runtime.CompilerServices;
using NativeBuffers.Os;

namespace NativeBuffers.Pooling;

/// <summary>
/// A <see cref="MemoryManager{T}"/> over a window of a lease: what turns native memory into a
/// <see cref="Memory{T}"/>. It does not own the lease; whoever rented it returns it. Every access checks that
/// the lease is still valid, so a <see cref="Memory{T}"/> kept past a resize or a return throws
/// <see cref="ObjectDisposedException"/> instead of reaching memory that now belongs to someone else.
/// </summary>
/// <remarks>
/// Pinning costs nothing: leased memory never moves, so <see cref="Pin"/> hands out the pointer with no GC
/// handle, and <see cref="Unpin"/> has nothing to undo. The window is at most <see cref="int.MaxValue"/>
/// elements (what a <see cref="Memory{T}"/> can address); larger leases are covered by several managers.
/// Thread-safety: immutable; safe to use from any thread while the lease is valid.
/// </remarks>
internal sealed class NativeMemoryManager<T> : MemoryManager<T> where T : unmanaged
{
    private readonly NativeBuffer<T> _lease;
    private readonly long _start;
    private readonly int _length;

    /// <summary>A manager over elements [<paramref name="start"/>, <paramref name="start"/>+<paramref name="length"/>) of <paramref name="lease"/>.</summary>
    public NativeMemoryManager(NativeBuffer<T> lease, long start, int length)
    {
        if ((ulong)start > (ulong)lease.Length || (ulong)length > (ulong)(lease.Length - start))
            ThrowHelper.ThrowArgumentOutOfRange(nameof(start), start, $"The window [{start}, {start}+{length}) is not inside the buffer of {lease.Length} elements.");
        _lease = lease;
        _start = start;
        _length = length;
    }

    /// <summary>The first element of the window, as an index into the lease.</summary>
    public long Start => _start;

    /// <summary>The number of elements in the window.</summary>
    public int Length => _length;

    /// <summary>The whole window as a <see cref="Memory{T}"/>; unlike the base property it does not touch the memory.</summary>
    public override Memory<T> Memory => CreateMemory(_length);

    /// <summary>True if this manager views <paramref name="lease"/> (the same rental, not a stale one) and its window holds [start, start+length).</summary>
    public bool Covers(NativeBuffer<T> lease, long start, int length) =>
        lease._allocation == _lease._allocation && lease._generation == _lease._generation
        && start >= _start && start + length <= _start + _length;

    /// <summary>Elements [start, start+length) of the lease, as a slice of this manager's memory. Call <see cref="Covers"/> first.</summary>
    public Memory<T> Slice(long start, int length) => CreateMemory(_length).Slice((int)(start - _start), length);

    /// <inheritdoc/>
    /// <exception cref="ObjectDisposedException">The lease was returned or resized.</exception>
    public override Span<T> GetSpan() => _lease.AsSpan(_start, _length);

    /// <inheritdoc/>
    /// <exception cref="ObjectDisposedException">The lease was returned or resized.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="elementIndex"/> is outside [0, Length].</exception>
    public override MemoryHandle Pin(int elementIndex = 0)
    {
        if ((uint)elementIndex > (uint)_length)
            ThrowHelper.ThrowArgumentOutOfRange(nameof(elementIndex), elementIndex, $"Index {elementIndex} is outside the memory of {_length} elements.");
        nint address = LeaseAddress.Of(_lease);
        return MemoryAccess.Handle(address + (nint)((_start + elementIndex) * Unsafe.SizeOf<T>()));
    }

    /// <inheritdoc/>
    public override void Unpin()
    {
        // Native memory does not move: pinning took nothing that needs giving back.
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        // The manager only views the lease; its renter returns it.
    }
}
