using System.Runtime.CompilerServices;
using NativeBuffers.Arenas;

namespace NativeBuffers.Pooling;

/// <summary>
/// One thread's cache of returned allocations for one pool, per size class, plus that thread's counters.
/// Only its thread touches the stacks and counters (plain loads and stores, no locks); other threads only
/// read the counters for statistics. Trimming asks the owner to flush by moving the pool's trim epoch.
/// When the thread ends, the finalizer hands the cached memory and the counters back to the pool.
/// </summary>
internal sealed class ThreadCache
{
    /// <summary>Classes above 16 MiB are not cached per thread: they go straight back to the arena.</summary>
    public const int LargestCachedClass = SizeClasses.HugeClass + 3;

    /// <summary>
    /// One size class's cache, and the one counter its fast paths update. <see cref="Hot"/> is the allocation
    /// returned last: Rent and Return of the same class, the common case, touch only it (one load, one store).
    /// <see cref="Spill"/> holds the rest, LIFO. 32 bytes, so the fast path finds a bin with a shift.
    /// <para>A Rent+Return pair served by the hot slot updates one counter, <see cref="Returns"/>. Rents from the
    /// hot slot are derived: every allocation that enters it (a return that found it empty) leaves it by such a rent,
    /// or by a flush, or is still there. So they are <see cref="Returns"/> less the returns that did not stay in the
    /// hot slot until a rent took them (<see cref="RareCounts.Unpaired"/>: pushed to the spill or the arena, or
    /// flushed), less the one in the slot now. <see cref="RareCounts.OtherRents"/> counts the rest (from the spill or
    /// the arena, less rents that ended in an exception). Bytes are derived as count × class size: an allocation of a
    /// cached class is always exactly its class's size.</para>
    /// </summary>
    private struct Bin
    {
        public Allocation? Hot;
        public Allocation?[] Spill;
        public int Count;
        public long Returns;
    }

    /// <summary>A class's counters that only the out-of-line paths update (see <see cref="Bin"/>).</summary>
    private struct RareCounts
    {
        public long Unpaired;
        public long OtherRents;
    }

    // One flat array (one bounds check on the fast path); empty when the cache is disabled, so every lookup misses.
    private readonly Bin[] _bins;
    private readonly RareCounts[] _rare;

    /// <summary>
    /// A class's rents (see <see cref="Bin"/>), given its <paramref name="returns"/>. Read by another thread while the
    /// owner works, each counter is whole but they may be from different moments, so the sum may be off for a moment:
    /// by one when the read catches a return or a flush half done (which can put it one ahead), by more when the
    /// owner pushes to the spill between the reads (behind). Never for longer: the counters themselves are exact.
    /// Observable counters must not go back, so the metrics hold their high-water mark (PoolCore.Metrics.cs).
    /// </summary>
    private long RentsOf(int sizeClass, long returns) =>
        Volatile.Read(ref _rare[sizeClass].OtherRents) + returns - Volatile.Read(ref _rare[sizeClass].Unpaired)
        - (Volatile.Read(ref _bins[sizeClass].Hot) is null ? 0 : 1);

    /// <param name="core">The pool the cache belongs to.</param>
    /// <param name="trimEpoch">The pool's trim epoch when the cache was made.</param>
    /// <param name="enabled">False gives a cache that holds nothing: every return goes to the arena, but the counters still work.</param>
    public ThreadCache(PoolCore core, int trimEpoch, bool enabled)
    {
        Core = core;
        TrimEpoch = trimEpoch;
        _bins = new Bin[enabled ? LargestCachedClass + 1 : 0];
        _rare = new RareCounts[_bins.Length];
        for (int sizeClass = 0; sizeClass < _bins.Length; sizeClass++)
            _bins[sizeClass].Spill = new Allocation?[CapacityOf(sizeClass) - 1];
    }

    public PoolCore Core { get; }
    public int TrimEpoch;

    /// <summary>Set (under the pool's caches lock) once the finalizer has folded the counters into the pool's totals.</summary>
    public bool Folded;

    // Leases of classes this cache does not hold (huge ones, or every class when the cache is disabled), counted
    // with their capacities; the cached classes count in their bins. Bytes in use is derived (rented − returned +
    // resized), never kept: a counter that a rent adds to and its return subtracts from would put two dependent
    // read-modify-writes of one location on every pair, each waiting for the other's store.
    private long _uncachedRents;
    private long _uncachedReturns;
    private long _uncachedRentedBytes;
    private long _uncachedReturnedBytes;

    /// <summary>Net bytes this thread's resizes added to leases (negative when they shrank them).</summary>
    public long ResizedBytes;

    /// <summary>How many allocations of a class a thread keeps (hot one included): many small ones, a single huge one.</summary>
    public static int CapacityOf(int sizeClass) =>
        sizeClass < SizeClasses.PageClass ? 16
        : sizeClass <= SizeClasses.PageClass + 4 ? 8   // up to 64 KiB
        : sizeClass < SizeClasses.HugeClass ? 4         // up to 1 MiB
        : 1;

    /// <summary>
    /// Rents an allocation of <paramref name="sizeClass"/>, counted as rented: the class's hot one, else the spill's
    /// top, else one from the arena (<see cref="PoolCore.RentSlow"/>, which counts it). Never null, so the inlined
    /// fast path ends in one test of the hot slot and the code after it needs no second one.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Allocation Rent(int sizeClass)
    {
        Bin[] bins = _bins;
        if ((uint)sizeClass < (uint)bins.Length)
        {
            ref Bin bin = ref bins[sizeClass];
            Allocation? allocation = bin.Hot;
            if (allocation is not null)
            {
                bin.Hot = null; // counted as derived (see Bin)
                return allocation;
            }
        }
        return RentMiss(sizeClass);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private Allocation RentMiss(int sizeClass) => TryRent(sizeClass) ?? Core.RentSlow(this, sizeClass);

    /// <summary>Rents from the cache alone: the class's hot allocation, else the spill's top, counted as rented; null when it holds none.</summary>
    public Allocation? TryRent(int sizeClass)
    {
        Bin[] bins = _bins;
        if ((uint)sizeClass >= (uint)bins.Length)
            return null;
        ref Bin bin = ref bins[sizeClass];
        Allocation? allocation = bin.Hot;
        if (allocation is not null)
        {
            bin.Hot = null; // counted as derived (see Bin)
            return allocation;
        }
        allocation = PopSpill(ref bin);
        if (allocation is not null)
            _rare[sizeClass].OtherRents++;
        return allocation;
    }

    /// <summary>Counts a rent the cache did not serve.</summary>
    public void CountRent(Allocation allocation)
    {
        int sizeClass = allocation.SizeClass;
        if ((uint)sizeClass < (uint)_bins.Length)
        {
            _rare[sizeClass].OtherRents++;
            return;
        }
        _uncachedRents++;
        _uncachedRentedBytes += allocation.Capacity;
    }

    /// <summary>Takes back a rent counted by <see cref="Rent"/>, <see cref="TryRent"/> or <see cref="CountRent"/> that ended in an exception.</summary>
    public void UncountRent(Allocation allocation)
    {
        int sizeClass = allocation.SizeClass;
        if ((uint)sizeClass < (uint)_bins.Length)
        {
            _rare[sizeClass].OtherRents--; // whichever path served it: only the sum of the counters matters
            return;
        }
        _uncachedRents--;
        _uncachedRentedBytes -= allocation.Capacity;
    }

    /// <summary>
    /// The return fast path: counts <paramref name="allocation"/> as returned and keeps it if its class has room;
    /// false when the caller must give it to the arena.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryReturn(Allocation allocation)
    {
        int sizeClass = allocation.SizeClass;
        Bin[] bins = _bins;
        if ((uint)sizeClass >= (uint)bins.Length)
            return CountUncachedReturn(allocation);
        ref Bin bin = ref bins[sizeClass];
        bin.Returns++;
        if (bin.Hot is not null)
            return PushSpill(ref bin, ref _rare[sizeClass], allocation);
        bin.Hot = allocation;
        return true;
    }

    /// <summary>Takes back an ended lease's allocation: into this cache if its class has room, else to <paramref name="core"/>'s arena.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void TakeBack(Allocation allocation, PoolCore core)
    {
        if (!TryReturn(allocation))
            core.ReturnSlow(allocation);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool CountUncachedReturn(Allocation allocation)
    {
        _uncachedReturns++;
        _uncachedReturnedBytes += allocation.Capacity;
        return false;
    }

    /// <summary>Adds this thread's counters to <paramref name="totals"/>; other threads read them racily, each one whole.</summary>
    public void AddCountsTo(ref LeaseCounts totals)
    {
        Bin[] bins = _bins;
        for (int sizeClass = 0; sizeClass < bins.Length; sizeClass++)
        {
            long returns = Volatile.Read(ref bins[sizeClass].Returns);
            long rents = RentsOf(sizeClass, returns);
            long bytes = SizeClasses.SizeOf(sizeClass);
            totals.Rents += rents;
            totals.Returns += returns;
            totals.RentedBytes += rents * bytes;
            totals.ReturnedBytes += returns * bytes;
        }
        totals.Rents += Volatile.Read(ref _uncachedRents);
        totals.Returns += Volatile.Read(ref _uncachedReturns);
        totals.RentedBytes += Volatile.Read(ref _uncachedRentedBytes);
        totals.ReturnedBytes += Volatile.Read(ref _uncachedReturnedBytes);
        totals.ResizedBytes += Volatile.Read(ref ResizedBytes);
    }

    private static Allocation? PopSpill(ref Bin bin)
    {
        int count = bin.Count;
        if (count == 0)
            return null;
        bin.Count = --count;
        Allocation? allocation = bin.Spill[count];
        bin.Spill[count] = null;
        return allocation;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool PushSpill(ref Bin bin, ref RareCounts rare, Allocation allocation)
    {
        rare.Unpaired++; // it does not enter the hot slot (see Bin)
        Allocation?[] spill = bin.Spill;
        int count = bin.Count;
        if (count == spill.Length)
            return false;
        spill[count] = allocation;
        bin.Count = count + 1;
        return true;
    }

    /// <summary>Empties the cache into the arena. Called by the owner thread, or by the finalizer once the owner is gone.</summary>
    public long Flush()
    {
        long bytes = 0;
        for (int sizeClass = 0; sizeClass < _bins.Length; sizeClass++)
        {
            ref Bin bin = ref _bins[sizeClass];
            if (bin.Hot is not null)
            {
                bytes += Free(bin.Hot);
                bin.Hot = null;
                _rare[sizeClass].Unpaired++; // it leaves the hot slot other than by a rent (see Bin)
            }
            for (int i = 0; i < bin.Count; i++)
            {
                bytes += Free(bin.Spill[i]!);
                bin.Spill[i] = null;
            }
            bin.Count = 0;
        }
        return bytes;
    }

    private static long Free(Allocation allocation)
    {
        if (!allocation.Arena.IsDisposed)
            allocation.Arena.Free(allocation);
        return allocation.Capacity;
    }

    /// <summary>Bytes held in this cache (read racily by other threads for statistics).</summary>
    public long CachedBytes()
    {
        long bytes = 0;
        for (int sizeClass = 0; sizeClass < _bins.Length; sizeClass++)
        {
            int count = Volatile.Read(ref _bins[sizeClass].Count) + (Volatile.Read(ref _bins[sizeClass].Hot) is null ? 0 : 1);
            bytes += count * SizeClasses.SizeOf(sizeClass);
        }
        return bytes;
    }

    ~ThreadCache()
    {
        // The owning thread is gone; nobody else can reach the stacks now.
        if (!Core.IsDisposed)
            Core.FoldDeadCache(this);
    }
}

/// <summary>Lease counters summed over threads: counts, and the bytes they rented, returned and resized by.</summary>
internal struct LeaseCounts
{
    public long Rents;
    public long Returns;
    public long RentedBytes;
    public long ReturnedBytes;
    public long ResizedBytes;

    /// <summary>Bytes held by leases still out.</summary>
    public readonly long InUseBytes => RentedBytes - ReturnedBytes + ResizedBytes;
}
