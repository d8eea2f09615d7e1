using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using NativeBuffers.Arenas;
using NativeBuffers.Os;

namespace NativeBuffers.Pooling;

/// <summary>
/// What <see cref="NativeMemoryPool.Rent"/> hands out: the <see cref="IMemoryOwner{T}"/> of one lease and the
/// <see cref="MemoryManager{T}"/> behind its <see cref="Memory{T}"/>, in one object. Native memory never moves, so
/// <see cref="Pin"/> just returns the address.
/// </summary>
/// <remarks>
/// <para>Reuse: an owner belongs to one allocation record for life. In the default mode each record keeps two
/// owners and successive leases of the record alternate between them (<see cref="ForNextLease"/>); in the strict
/// mode every lease gets a new owner. A <see cref="Memory{T}"/> captures only its manager object, never a lease
/// number, so what a stale <c>Memory</c> can reach is decided by when its owner object is bound again.</para>
/// <para>Lease check: <see cref="_generation"/> is the lease's (odd) generation; every accessor compares it with the
/// record's generation, which the pool moves on at return and at pool disposal, so an ended lease never matches
/// again. Thread-safety: accessors may run on any thread; Dispose is idempotent under races (the pool's
/// compare-and-swap on the record lets exactly one return through).</para>
/// </remarks>
[DebuggerDisplay("{ToString(),nq}")]
internal sealed class NativeMemoryOwner : MemoryManager<byte>
{
    private readonly PoolCore _core;
    private readonly Allocation _allocation;
    private int _generation;
    private nint _address;
    private int _length;

    // Default mode, on the record's first owner only: the second owner, and which of the two the next lease gets.
    private NativeMemoryOwner? _partner;
    private bool _partnerIsNext;

    public NativeMemoryOwner(PoolCore core, Allocation allocation)
    {
        _core = core;
        _allocation = allocation;
    }

    /// <summary>
    /// The owner for the lease just taken on <paramref name="allocation"/>: the one its previous lease did not use,
    /// made on first need, so that the lease right after a stale one never shares its owner object.
    /// Called by the renting thread, which holds the record exclusively. The record points at the first owner for
    /// good and the toggle lives in that owner, so a rent stores no reference (no GC write barrier).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static NativeMemoryOwner ForNextLease(PoolCore core, Allocation allocation)
    {
        if (allocation.Owner is not NativeMemoryOwner first)
            return MakeFirst(core, allocation);
        if (!first._partnerIsNext)
        {
            first._partnerIsNext = true;
            return first;
        }
        first._partnerIsNext = false;
        return first._partner ?? MakePartner(core, allocation, first);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static NativeMemoryOwner MakeFirst(PoolCore core, Allocation allocation)
    {
        var first = new NativeMemoryOwner(core, allocation) { _partnerIsNext = true };
        allocation.Owner = first;
        return first;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static NativeMemoryOwner MakePartner(PoolCore core, Allocation allocation, NativeMemoryOwner first)
    {
        var partner = new NativeMemoryOwner(core, allocation);
        first._partner = partner;
        return partner;
    }

    /// <summary>Starts the lease (allocation, generation) on this owner. The record's address does not change while rented.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Bind(int generation)
    {
        _address = _allocation.Address;
        _length = (int)Math.Min(_allocation.Capacity, int.MaxValue);
        Volatile.Write(ref _generation, generation);
    }

    /// <summary>True while the lease this owner was last bound to is out.</summary>
    public bool IsLeased
    {
        get
        {
            int generation = Volatile.Read(ref _generation);
            return (generation & 1) != 0 && Volatile.Read(ref _allocation.Generation) == generation;
        }
    }

    /// <summary>The address of the first byte (tests compare it across leases).</summary>
    internal nint Address => _address;

    public override Memory<byte> Memory
    {
        get
        {
            CheckLease();
            return CreateMemory(_length);
        }
    }

    public override Span<byte> GetSpan()
    {
        CheckLease();
        return MemoryAccess.AsSpan<byte>(_address, _length);
    }

    public override MemoryHandle Pin(int elementIndex = 0)
    {
        CheckLease();
        if ((uint)elementIndex > (uint)_length)
            ThrowHelper.ThrowArgumentOutOfRange(nameof(elementIndex), elementIndex, $"elementIndex {elementIndex} is outside the buffer of {_length} bytes.");
        return MemoryAccess.Handle(_address + elementIndex);
    }

    /// <summary>Nothing to do: <see cref="Pin"/> took no GC handle, and the memory never moves while rented.</summary>
    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing)
    {
        int generation = _generation;
        if (Volatile.Read(ref _allocation.Generation) != generation || (generation & 1) == 0)
            return; // the lease has ended: an earlier Dispose, or the pool's disposal
        try
        {
            _core.Return(_allocation, generation, clear: false, "owner");
        }
        catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException)
        {
            // Lost a race with another Dispose of this owner (the record's generation check let one return through)
            // or with the pool's disposal: the lease has ended either way, which is all Dispose promises.
        }
    }

    public override string ToString() => $"NativeMemoryOwner[{_length}]{(IsLeased ? "" : " (returned)")}";

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void CheckLease()
    {
        int generation = _generation;
        // An even value is 0 (ended here) or can only match a record that is not rented.
        if (_allocation.Generation != generation || (generation & 1) == 0)
            ThrowHelper.ThrowStaleMemory();
    }
}
