using System.Diagnostics.Tracing;
using System.Runtime.CompilerServices;
using System.Threading;
using NativeBuffers.Arenas;
using NativeBuffers.Diagnostics;

namespace NativeBuffers.Pooling;

/// <summary>
/// The part of a pool that does not depend on the element type: the arena, the per-thread caches, the lease
/// protocol and the counters. All <see cref="NativeArrayPool{T}"/> views of the shared pool share one core.
/// </summary>
/// <remarks>
/// Lease protocol: an allocation's generation is odd while rented. Rent makes it odd (the allocation is then
/// held by one thread only, so a plain store suffices); Return moves it on with a compare-and-swap from the
/// lease's generation, so of two racing returns exactly one wins and the other is reported; Resize holds the
/// allocation (even generation) while it works and publishes a new odd generation for the new lease.
/// Thread-safety: all members are thread-safe.
/// </remarks>
internal sealed class PoolCore : IDisposable
{
    private static readonly Lock s_idLock = new();
    private static readonly Stack<int> s_freeIds = new();
    private static int s_nextId = 1; // 0 is the shared pool's

    // The shared pool's cache has a thread-static of its own: one TLS load and a null check on its hot path.
    // Other pools index a per-thread array by pool id.
    [ThreadStatic]
    private static ThreadCache? t_sharedCache;

    [ThreadStatic]
    private static ThreadCache?[]? t_caches;

    private static PoolCore? s_shared;

    private readonly int _id;
    private readonly Lock _cachesLock = new();
    private readonly List<WeakReference<ThreadCache>> _caches = new();
    private int _trimEpoch;
    private long _retiredRents;
    private long _retiredReturns;
    private long _retiredInUseBytes;
    private int _disposed;

    public PoolCore(NativePoolOptions options, bool isShared = false)
    {
        Arena = new Arena(options.ToArenaSettings());
        UseThreadCaches = options.ThreadCaches;
        IsShared = isShared;
        _id = isShared ? 0 : TakeId();
        Diagnostics = new PoolDiagnostics(NativeArrayPoolMetrics.Register(this, options.Name));
        Arena.Diagnostics = Diagnostics;
    }

    /// <summary>The process-wide core behind every <c>Shared</c> pool.</summary>
    public static PoolCore Shared
    {
        get
        {
            PoolCore? core = Volatile.Read(ref s_shared);
            return core ?? CreateShared();
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static PoolCore CreateShared()
    {
        var core = new PoolCore(NativePoolOptions.FromEnvironment(), isShared: true);
        return Interlocked.CompareExchange(ref s_shared, core, null) ?? core;
    }

    public Arena Arena { get; }
    public bool IsShared { get; }
    public PoolDiagnostics Diagnostics { get; }
    public string Name => Diagnostics.Name;
    public bool UseThreadCaches { get; }
    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    // ---------------- rent, return, resize ----------------

    /// <summary>Rents an allocation of <paramref name="sizeClass"/> and returns its new (odd) generation.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Allocation Rent(int sizeClass, out int generation)
    {
        // A disposed pool's caches on other threads still hold records of unmapped memory: never hand them out.
        if (_disposed != 0)
            ThrowHelper.ThrowPoolDisposed();
        ThreadCache cache = GetCache();
        Allocation? allocation = cache.TryPop(sizeClass) ?? RentSlow(cache, sizeClass);
        generation = allocation.Generation + 1;
        allocation.Generation = generation;
        cache.Rents++;
        cache.InUseBytes += allocation.Capacity;
        return allocation;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private Allocation RentSlow(ThreadCache cache, int sizeClass)
    {
        if (IsDisposed)
            ThrowHelper.ThrowPoolDisposed();
        if (cache.TrimEpoch != Volatile.Read(ref _trimEpoch))
        {
            cache.TrimEpoch = _trimEpoch;
            cache.Flush();
        }
        Allocation allocation = Arena.Allocate(sizeClass);
        if (NativeArrayPoolEventSource.Log.IsEnabled(EventLevel.Verbose, NativeArrayPoolEventSource.Keywords.Leases))
            NativeArrayPoolEventSource.Log.BufferRented(Name, allocation.Capacity, sizeClass);
        return allocation;
    }

    /// <summary>Retires the lease (allocation, generation) and takes the memory back. Throws on a stale or double return.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Return(Allocation allocation, int generation, bool clear, string paramName)
    {
        if (Interlocked.CompareExchange(ref allocation.Generation, generation + 1, generation) != generation)
            ThrowStale(paramName);
        if (clear)
            Arena.Os.Clear(allocation.Address, (nuint)allocation.Capacity);
        ThreadCache cache = GetCache();
        cache.Returns++;
        cache.InUseBytes -= allocation.Capacity;
        if (!cache.TryPush(allocation))
            ReturnSlow(allocation);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowStale(string paramName)
    {
        if (IsDisposed)
            ThrowHelper.ThrowPoolDisposed();
        Diagnostics.OnMisuse(MisuseKind.DoubleReturn);
        ThrowHelper.ThrowStaleReturn(paramName);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ReturnSlow(Allocation allocation)
    {
        if (NativeArrayPoolEventSource.Log.IsEnabled(EventLevel.Verbose, NativeArrayPoolEventSource.Keywords.Leases))
            NativeArrayPoolEventSource.Log.BufferReturned(Name, allocation.Capacity, allocation.SizeClass);
        if (!IsDisposed)
            Arena.Free(allocation);
    }

    /// <summary>
    /// Resizes the leased allocation to <paramref name="newClass"/>. On success the old lease is retired and the
    /// returned allocation carries <paramref name="newGeneration"/>; on failure the old lease is still valid.
    /// </summary>
    public Allocation Resize(Allocation allocation, int generation, int newClass, bool clearOld, string paramName, out int newGeneration)
    {
        // Take the lease: the even generation keeps a racing Return or Resize of the same lease out.
        if (Interlocked.CompareExchange(ref allocation.Generation, generation + 1, generation) != generation)
            ThrowStale(paramName);
        long oldCapacity = allocation.Capacity;
        Allocation result;
        try
        {
            result = Arena.Resize(allocation, newClass, clearOld);
        }
        catch
        {
            Volatile.Write(ref allocation.Generation, generation); // the buffer is intact: give the lease back
            throw;
        }
        newGeneration = result.Generation + 1;
        Volatile.Write(ref result.Generation, newGeneration);
        ThreadCache cache = GetCache();
        cache.InUseBytes += result.Capacity - oldCapacity;
        return result;
    }

    // ---------------- caches ----------------

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ThreadCache GetCache()
    {
        if (IsShared)
        {
            // Only one shared core is ever published, so no owner check is needed.
            ThreadCache? shared = t_sharedCache;
            return shared ?? CreateCache();
        }
        ThreadCache?[]? caches = t_caches;
        if (caches is not null && (uint)_id < (uint)caches.Length)
        {
            ThreadCache? cache = caches[_id];
            if (cache is not null && cache.Core == this)
                return cache;
        }
        return CreateCache();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ThreadCache CreateCache()
    {
        var cache = new ThreadCache(this, Volatile.Read(ref _trimEpoch), UseThreadCaches);
        if (IsShared)
        {
            t_sharedCache = cache;
        }
        else
        {
            ThreadCache?[]? caches = t_caches;
            if (caches is null || caches.Length <= _id)
            {
                Array.Resize(ref caches, Math.Max(_id + 1, (caches?.Length ?? 2) * 2));
                t_caches = caches;
            }
            caches[_id] = cache;
        }
        lock (_cachesLock)
        {
            _caches.RemoveAll(w => !w.TryGetTarget(out _));
            // Long weak references: a dead thread's cache stays readable until its finalizer has moved the
            // counters to the retired totals, so statistics never miss them in between.
            _caches.Add(new WeakReference<ThreadCache>(cache, trackResurrection: true));
        }
        return cache;
    }

    /// <summary>Called by a cache's finalizer when its thread has ended: keep its counters, free its memory.</summary>
    public void Retire(ThreadCache cache)
    {
        cache.Flush();
        lock (_cachesLock)
        {
            _retiredRents += cache.Rents;
            _retiredReturns += cache.Returns;
            _retiredInUseBytes += cache.InUseBytes;
            cache.Retired = true;
        }
    }

    /// <summary>Flushes this thread's cache now and asks every other thread to flush on its next slow-path rent.</summary>
    public long FlushCaches()
    {
        Interlocked.Increment(ref _trimEpoch);
        ThreadCache cache = GetCache();
        cache.TrimEpoch = Volatile.Read(ref _trimEpoch);
        return cache.Flush();
    }

    // ---------------- statistics ----------------

    public NativePoolStatistics GetStatistics()
    {
        long rents, returns, inUse;
        lock (_cachesLock)
        {
            rents = _retiredRents;
            returns = _retiredReturns;
            inUse = _retiredInUseBytes;
            foreach (WeakReference<ThreadCache> reference in _caches)
            {
                if (!reference.TryGetTarget(out ThreadCache? cache) || cache.Retired)
                    continue;
                rents += Volatile.Read(ref cache.Rents);
                returns += Volatile.Read(ref cache.Returns);
                inUse += Volatile.Read(ref cache.InUseBytes);
            }
        }
        Arena arena = Arena;
        return new NativePoolStatistics
        {
            MappedBytes = arena.ReservedBytes,
            InUseBytes = inUse,
            KernelMappings = arena.KernelMappings,
            PeakKernelMappings = Volatile.Read(ref arena.PeakKernelMappings),
            MappingBudget = arena.Settings.MappingBudget,
            Reservations = arena.ReservationCount,
            DetachedMappings = arena.DetachedCount,
            Rents = rents,
            Returns = returns,
            GrowsInPlace = Volatile.Read(ref arena.GrowsInPlace),
            GrowsRemappedFixed = Volatile.Read(ref arena.GrowsRemappedFixed),
            GrowsRemapped = Volatile.Read(ref arena.GrowsRemapped),
            GrowsCopied = Volatile.Read(ref arena.GrowsCopied),
            BytesCopied = Volatile.Read(ref arena.BytesCopied),
            MovesDeclinedByBudget = Volatile.Read(ref arena.MovesDeclinedByBudget),
            MovesFailed = Volatile.Read(ref arena.MovesFailed),
            Trims = Volatile.Read(ref Diagnostics.Trims),
            MisuseDetected = Volatile.Read(ref Diagnostics.MisuseDetected),
            Backend = arena.Os.Name,
        };
    }

    // ---------------- lifetime ----------------

    public void Dispose()
    {
        if (IsShared)
            ThrowHelper.ThrowSharedPoolDispose();
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        // Retire every lease still out, so using one throws instead of touching unmapped memory.
        foreach (Allocation record in Arena.AllRecords())
        {
            int generation = record.Generation;
            if ((generation & 1) != 0)
                Interlocked.CompareExchange(ref record.Generation, generation + 1, generation);
        }
        Arena.Dispose();
        lock (s_idLock)
            s_freeIds.Push(_id);
    }

    private static int TakeId()
    {
        lock (s_idLock)
            return s_freeIds.Count > 0 ? s_freeIds.Pop() : s_nextId++;
    }
}
