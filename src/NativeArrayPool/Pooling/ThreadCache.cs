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

    private readonly Allocation?[][] _stacks = new Allocation?[LargestCachedClass + 1][];
    private readonly int[] _counts = new int[LargestCachedClass + 1];

    /// <param name="core">The pool the cache belongs to.</param>
    /// <param name="trimEpoch">The pool's trim epoch when the cache was made.</param>
    /// <param name="enabled">False gives a cache that holds nothing: every return goes to the arena, but the counters still work.</param>
    public ThreadCache(PoolCore core, int trimEpoch, bool enabled)
    {
        Core = core;
        TrimEpoch = trimEpoch;
        for (int sizeClass = 0; sizeClass <= LargestCachedClass; sizeClass++)
            _stacks[sizeClass] = new Allocation?[enabled ? CapacityOf(sizeClass) : 0];
    }

    public PoolCore Core { get; }
    public int TrimEpoch;

    /// <summary>Set (under the pool's caches lock) once the finalizer has moved the counters to the pool's retired totals.</summary>
    public bool Retired;

    // Counters of this thread's operations. InUseBytes may go negative on a thread that returns what others rented.
    public long Rents;
    public long Returns;
    public long InUseBytes;

    /// <summary>How many allocations of a class a thread keeps: many small ones, a single huge one.</summary>
    public static int CapacityOf(int sizeClass) =>
        sizeClass < SizeClasses.PageClass ? 16
        : sizeClass <= SizeClasses.PageClass + 4 ? 8   // up to 64 KiB
        : sizeClass < SizeClasses.HugeClass ? 4         // up to 1 MiB
        : 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Allocation? TryPop(int sizeClass)
    {
        if ((uint)sizeClass >= (uint)_counts.Length)
            return null;
        int count = _counts[sizeClass];
        if (count == 0)
            return null;
        Allocation?[] stack = _stacks[sizeClass];
        _counts[sizeClass] = --count;
        Allocation? allocation = stack[count];
        stack[count] = null;
        return allocation;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryPush(Allocation allocation)
    {
        int sizeClass = allocation.SizeClass;
        if ((uint)sizeClass >= (uint)_counts.Length)
            return false;
        Allocation?[] stack = _stacks[sizeClass];
        int count = _counts[sizeClass];
        if (count == stack.Length)
            return false;
        stack[count] = allocation;
        _counts[sizeClass] = count + 1;
        return true;
    }

    /// <summary>Empties the cache into the arena. Called by the owner thread, or by the finalizer once the owner is gone.</summary>
    public long Flush()
    {
        long bytes = 0;
        for (int sizeClass = 0; sizeClass < _stacks.Length; sizeClass++)
        {
            Allocation?[] stack = _stacks[sizeClass];
            for (int i = 0; i < _counts[sizeClass]; i++)
            {
                Allocation allocation = stack[i]!;
                stack[i] = null;
                bytes += allocation.Capacity;
                if (!allocation.Arena.IsDisposed)
                    allocation.Arena.Free(allocation);
            }
            _counts[sizeClass] = 0;
        }
        return bytes;
    }

    /// <summary>Bytes held in this cache (read racily by other threads for statistics).</summary>
    public long CachedBytes()
    {
        long bytes = 0;
        for (int sizeClass = 0; sizeClass < _counts.Length; sizeClass++)
            bytes += Volatile.Read(ref _counts[sizeClass]) * SizeClasses.SizeOf(sizeClass);
        return bytes;
    }

    ~ThreadCache()
    {
        // The owning thread is gone; nobody else can reach the stacks now.
        if (!Core.IsDisposed)
            Core.Retire(this);
    }
}
