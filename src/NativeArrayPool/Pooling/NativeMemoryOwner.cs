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
/// <para>Lease check: <see cref="_generation"/> is the lease's (odd) generation while it is out and 0 once this owner
/// ended it; every accessor compares it with the record's generation, which the pool moves on at return and at pool
/// disposal. Thread-safety: accessors may run on any thread; Dispose is idempotent under races (one CAS wins).</para>
/// </remarks>
[DebuggerDisplay("{ToString(),nq}")]
internal sealed class NativeMemoryOwner : MemoryManager<byte>
{
    private readonly PoolCore _core;
    private readonly Allocation _allocation;
    private int _generation;
    private nint _address;
    private int _length;

    /// <summary>The record's other owner (default mode): the next lease of the record is bound to it.</summary>
    private NativeMemoryOwner? _partner;

    public NativeMemoryOwner(PoolCore core, Allocation allocation)
    {
        _core = core;
        _allocation = allocation;
    }

    /// <summary>
    /// The owner for the lease just taken on <paramref name="allocation"/>: the one its previous lease did not use,
    /// made on first need, so that the lease right after a stale one never shares its owner object.
    /// Called by the renting thread, which holds the record exclusively.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static NativeMemoryOwner ForNextLease(PoolCore core, Allocation allocation)
    {
        var last = allocation.Owner as NativeMemoryOwner;
        NativeMemoryOwner? next = last?._partner;
        if (next is null)
            next = Pair(core, allocation, last);
        allocation.Owner = next;
        return next;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static NativeMemoryOwner Pair(PoolCore core, Allocation allocation, NativeMemoryOwner? last)
    {
        var owner = new NativeMemoryOwner(core, allocation);
        if (last is not null)
        {
            owner._partner = last;
            last._partner = owner;
        }
        return owner;
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
        int generation = Volatile.Read(ref _generation);
        if ((generation & 1) == 0)
            return; // already ended by this owner
        if (Interlocked.CompareExchange(ref _generation, 0, generation) != generation)
            return; // a racing Dispose won
        if (Volatile.Read(ref _allocation.Generation) != generation)
            return; // the pool was disposed and retired the lease: nothing to give back
        try
        {
            _core.Return(_allocation, generation, clear: false, "owner");
        }
        catch (ObjectDisposedException) when (_core.IsDisposed)
        {
            // The pool was disposed between the check above and the return; its memory is gone already.
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
