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
/// <para>Lease check: <see cref="_generation"/> is the lease's (odd) generation, or 0 once a per-lease owner's Dispose
/// has run; every accessor compares it with the record's generation, which the pool moves on at return and at pool
/// disposal, so an ended lease never matches again. A <see cref="Memory{T}"/> captures only its manager object, so
/// whatever this object is bound to is what a stale <c>Memory</c> reaches.</para>
/// <para>Per-lease owners (the default): made by <see cref="NativeMemoryPool.Rent"/> for one lease and never bound
/// again. Dispose sets the generation to 0 for good, so a disposed owner, and every <c>Memory</c> taken from it,
/// stays disposed whatever happens to the record afterwards. The object is two fields (32 bytes): the pool is found
/// through the record's arena (a <see cref="PoolArena"/>) rather than stored here.</para>
/// <para>Reused owners (<see cref="ForNextLease"/>, an opt-in): each record keeps two owners and the record's
/// successive leases alternate between them, so lease n+2 is bound to lease n's object again — a stale <c>Memory</c>
/// or a second Dispose of lease n then reaches lease n+2. <see cref="NativeMemoryPool"/> documents this where the
/// option is.</para>
/// <para>Thread-safety: accessors may run on any thread. A per-lease owner's Dispose is idempotent under races: it
/// claims its generation with an exchange, so of two racing Disposes exactly one reaches the pool, and the other
/// finds 0 and does nothing. A reused owner has no such claim: in the pool's default mode (a plain check and store on
/// the record) two Disposes of it racing each other can both take the buffer back, which is why a reused owner must
/// be disposed exactly once (<see cref="NativeMemoryPool"/> says so where the option is); with
/// <see cref="NativePoolOptions.DetectRacingReturns"/> the record's compare-and-swap lets only one through.</para>
/// </remarks>
[DebuggerDisplay("{ToString(),nq}")]
internal sealed class NativeMemoryOwner : MemoryManager<byte>
{
    private readonly Allocation _allocation;
    private int _generation;
    private readonly bool _reused; // fits in the padding: the object stays 32 bytes

    /// <summary>An owner for the lease (<paramref name="allocation"/>, <paramref name="generation"/>), which has just been rented.</summary>
    public NativeMemoryOwner(Allocation allocation, int generation)
        : this(allocation, generation, reused: false)
    {
    }

    private NativeMemoryOwner(Allocation allocation, int generation, bool reused)
    {
        _allocation = allocation;
        _generation = generation;
        _reused = reused;
    }

    /// <summary>
    /// Reused owners only: the owner for the lease just taken on <paramref name="allocation"/>, the one of the
    /// record's two that its previous lease did not use (both made on the record's first rent), bound to
    /// <paramref name="generation"/>. Called by the renting thread, which holds the record exclusively; the toggle
    /// lives in the pair, so a rent stores no reference (no GC write barrier).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static NativeMemoryOwner ForNextLease(Allocation allocation, int generation)
    {
        if (allocation.Owner is not Pair pair)
            pair = MakePair(allocation);
        NativeMemoryOwner owner = pair.SecondIsNext ? pair.Second : pair.First;
        pair.SecondIsNext = !pair.SecondIsNext;
        Volatile.Write(ref owner._generation, generation);
        return owner;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Pair MakePair(Allocation allocation)
    {
        var pair = new Pair(new NativeMemoryOwner(allocation, 0, reused: true), new NativeMemoryOwner(allocation, 0, reused: true));
        allocation.Owner = pair;
        return pair;
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

    /// <summary>The address of the first byte while leased (tests compare it across leases).</summary>
    internal nint Address => _allocation.Address;

    public override Memory<byte> Memory
    {
        get
        {
            CheckedAddress(out int length);
            return CreateMemory(length);
        }
    }

    public override Span<byte> GetSpan()
    {
        nint address = CheckedAddress(out int length);
        return MemoryAccess.AsSpan<byte>(address, length);
    }

    public override MemoryHandle Pin(int elementIndex = 0)
    {
        nint address = CheckedAddress(out int length);
        if ((uint)elementIndex > (uint)length)
            ThrowHelper.ThrowArgumentOutOfRange(nameof(elementIndex), elementIndex, $"elementIndex is outside the buffer of {length} bytes.");
        return MemoryAccess.Handle(address + elementIndex);
    }

    /// <summary>Nothing to do: <see cref="Pin"/> took no GC handle, and the memory never moves while rented.</summary>
    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing)
    {
        PoolCore pool = Pool;
        if (_reused)
        {
            // Another thread may already have bound this object to the record's next lease: leave it as it is.
            int current = Volatile.Read(ref _generation);
            if ((current & 1) != 0)
                pool.DisposeLease(_allocation, current);
            return;
        }
        // A per-lease owner ends for good, whatever the record's generation does from now on. Claiming it with
        // an exchange lets exactly one of two racing Disposes end the lease, even in the pool's default mode, whose
        // return check is a plain load and store.
        int generation = Interlocked.Exchange(ref _generation, 0);
        if ((generation & 1) != 0)
            pool.DisposeLease(_allocation, generation);
    }

    public override string ToString() =>
        $"NativeMemoryOwner[{(int)Math.Min(_allocation.Capacity, int.MaxValue)}]{(IsLeased ? "" : Pool.IsDisposed ? " (pool disposed)" : " (returned)")}";

    private PoolCore Pool => ((PoolArena)_allocation.Arena).Pool;

    /// <summary>The lease's address and length (bytes, at most <see cref="int.MaxValue"/>), if the lease is still out.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private nint CheckedAddress(out int length)
    {
        int generation = Volatile.Read(ref _generation);
        // The address and capacity first, then the record's generation, as NativeBuffer<T>.TryGetAddress does: a return
        // retires the generation before the arena recycles the record (address 0) or reuses it for another size, so
        // what was read before an unchanged generation is still this lease's. (Read after the check, a Dispose racing
        // on another thread could hand out address 0.) The acquires keep the later reads behind the earlier ones.
        nint address = Volatile.Read(ref _allocation.Address);
        length = (int)Math.Min(Volatile.Read(ref _allocation.Capacity), int.MaxValue);
        // An even value is 0 (disposed, or a reused owner not bound yet) or can only match a record that is not rented.
        if (Volatile.Read(ref _allocation.Generation) != generation || (generation & 1) == 0)
            ThrowHelper.ThrowStaleMemory(generation == 0 || !Pool.IsDisposed);
        return address;
    }

    /// <summary>A record's two reused owners and which one its next lease gets.</summary>
    private sealed class Pair(NativeMemoryOwner first, NativeMemoryOwner second)
    {
        public readonly NativeMemoryOwner First = first;
        public readonly NativeMemoryOwner Second = second;
        public bool SecondIsNext;
    }
}
