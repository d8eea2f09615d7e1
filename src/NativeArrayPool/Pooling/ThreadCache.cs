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
    /// One size class's cache. <see cref="Hot"/> is the allocation returned last: Rent and Return of the same
    /// class, the common case, touch only it (one load, one store). <see cref="Spill"/> holds the rest, LIFO.
    /// </summary>
    private struct Bin
    {
        public Allocation? Hot;
        public Allocation?[] Spill;
        public int Count;
    }

    // One flat array (one bounds check on the fast path); empty when the cache is disabled, so every lookup misses.
    private readonly Bin[] _bins;

    /// <param name="core">The pool the cache belongs to.</param>
    /// <param name="trimEpoch">The pool's trim epoch when the cache was made.</param>
    /// <param name="enabled">False gives a cache that holds nothing: every return goes to the arena, but the counters still work.</param>
    public ThreadCache(PoolCore core, int trimEpoch, bool enabled)
    {
        Core = core;
        TrimEpoch = trimEpoch;
        _bins = new Bin[enabled ? LargestCachedClass + 1 : 0];
        for (int sizeClass = 0; sizeClass < _bins.Length; sizeClass++)
            _bins[sizeClass].Spill = new Allocation?[CapacityOf(sizeClass) - 1];
    }

    public PoolCore Core { get; }
    public int TrimEpoch;

    /// <summary>Set (under the pool's caches lock) once the finalizer has folded the counters into the pool's totals.</summary>
    public bool Folded;

    // Counters of this thread's operations. InUseBytes may go negative on a thread that returns what others rented.
    public long Rents;
    public long Returns;
    public long InUseBytes;
    public long RentedBytes;

    /// <summary>How many allocations of a class a thread keeps (hot one included): many small ones, a single huge one.</summary>
    public static int CapacityOf(int sizeClass) =>
        sizeClass < SizeClasses.PageClass ? 16
        : sizeClass <= SizeClasses.PageClass + 4 ? 8   // up to 64 KiB
        : sizeClass < SizeClasses.HugeClass ? 4         // up to 1 MiB
        : 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Allocation? TryPop(int sizeClass)
    {
        Bin[] bins = _bins;
        if ((uint)sizeClass >= (uint)bins.Length)
            return null;
        ref Bin bin = ref bins[sizeClass];
        Allocation? allocation = bin.Hot;
        if (allocation is null)
            return PopSpill(ref bin);
        bin.Hot = null;
        return allocation;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryPush(Allocation allocation)
    {
        int sizeClass = allocation.SizeClass;
        Bin[] bins = _bins;
        if ((uint)sizeClass >= (uint)bins.Length)
            return false;
        ref Bin bin = ref bins[sizeClass];
        if (bin.Hot is not null)
            return PushSpill(ref bin, allocation);
        bin.Hot = allocation;
        return true;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool PushSpill(ref Bin bin, Allocation allocation)
    {
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
