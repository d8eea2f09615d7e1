using System.Diagnostics;
using System.Diagnostics.Tracing;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
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
/// held by one thread only, so a plain store suffices). Return checks the lease's generation and moves it on: in
/// the default mode with a plain load and store, as glibc's tcache checks a free, which catches every return that
/// is ordered after the lease ended (a second Return, a stale lease); with
/// <see cref="NativePoolOptions.DetectRacingReturns"/> (and in guarded mode) with a compare-and-swap, so that of two
/// racing returns exactly one wins. Resize always takes the lease with a compare-and-swap (it is slow anyway), holds
/// the allocation (even generation) while it works and publishes a new odd generation for the new lease.
/// A forged lease carrying an even generation never matches (see <see cref="TryRetire"/>).
/// Disposal: operations that touch pool memory or call into the arena (every slow path: a rent from the arena, a
/// clearing return, a return to the arena, a resize, a trim) run between <see cref="TryEnterOperation"/> and
/// <see cref="ExitOperation"/>, and Dispose waits for those in flight before it unmaps anything. Nothing that may
/// reach users' code runs inside an operation: events are raised after it, and an exception thrown inside one (the
/// arena's InsufficientMemoryException, the guard's StaleWriteException) is caught there and thrown again after it,
/// because callers' exception filters run before the finally blocks they unwind, and a filter that disposes the pool
/// would otherwise wait for the call it came from. (A FirstChanceException handler runs at the throw itself, inside
/// the operation: one that disposes the pool still waits for itself.) The fast paths
/// (a rent or return through the thread cache) touch no memory and take no locked instruction; a rent checks the
/// disposed flag after it has published its lease, and Dispose flushes every processor's stores before it looks,
/// so either the rent sees the flag or Dispose sees the lease (a return reads the flag after its store in the same
/// way). The shared core, which cannot be disposed, skips both reads. Leases still out at disposal become orphans:
/// ended for every accessor, but their memory stays mapped until each one is returned or disposed.
/// Options beyond the default mode hook only the slow paths: <see cref="LeaseGuard"/> (Guarded; rents never take
/// from its quarantine, and what a resize vacates goes there too),
/// <see cref="LeaseTracker"/> (TrackLeases), ZeroOnRent; trimming and leak reports live in PoolCore.Trimming.cs
/// and PoolCore.Leases.cs, the idle and memory-pressure policies in <see cref="MemoryReclaimer"/>.
/// Thread-safety: all members are thread-safe.
/// </remarks>
internal sealed partial class PoolCore : IDisposable
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
    private static readonly Lock s_sharedCreation = new();

    private readonly int _id;
    private readonly Lock _cachesLock = new();
    private readonly List<WeakReference<ThreadCache>> _caches = new();
    private int _trimEpoch;
    private LeaseCounts _foldedCounts; // dead threads' counters, under _cachesLock
    private long _misuseDetected;
    private long _trims;
    private long _pressureTrims;
    private long _leaksReported;
    private long _leakedBytes;
    private int _disposed;
    private int _operations; // slow operations in flight; Dispose waits for them
    private long _redundantDisposes;

    // Debugging and memory-return policy; all null/false in the default mode. They hook only the slow paths
    // (guarded and tracking pools bypass the thread caches, so every rent and return takes them).
    private readonly LeaseGuard? _guard;
    private readonly LeaseTracker? _tracker;
    private readonly bool _zeroOnRent;
    private readonly bool _detectRacingReturns;
    private readonly bool _plainReturns; // neither ZeroOnRent nor DetectRacingReturns
    private readonly bool _sharedPlainReturns; // the shared core with plain returns: Return's fastest path tests this one flag
    private readonly Action<NativeLeaseInfo>? _leakReported;
    private readonly MemoryReclaimer _reclaimer;

    public PoolCore(NativePoolOptions options, bool isShared = false)
    {
        Arena = new PoolArena(options.ToArenaSettings(), this);
        EmptyLease = new Allocation(Arena) { Generation = 1 };
        bool tracking = options.TrackLeases || options.Guarded;
        UseThreadCaches = options.ThreadCaches && !tracking;
        IsShared = isShared;
        _id = isShared ? 0 : TakeId();
        Diagnostics = new PoolDiagnostics(NativeArrayPoolMetrics.NameFor(options.Name, isShared));
        _guard = options.Guarded ? new LeaseGuard(Arena, options.QuarantineBytes) : null;
        _tracker = tracking ? new LeaseTracker(options.CaptureRentStackTraces) : null;
        _zeroOnRent = options.ZeroOnRent;
        _detectRacingReturns = options.DetectRacingReturns || options.Guarded;
        _plainReturns = !_zeroOnRent && !_detectRacingReturns;
        _sharedPlainReturns = _plainReturns && isShared;
        _leakReported = options.LeakReported;
        _reclaimer = new MemoryReclaimer(this, options);
        NativeArrayPoolMetrics.Register(this); // last: a listener may read the pool as soon as it is registered
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

    /// <summary>
    /// Builds the shared core once per process, under a lock rather than by a compare-and-swap: a core built by a
    /// thread that lost the race to publish is already registered for metrics (its zeros reported as <c>shared</c>
    /// beside the real figures) and has a reclaimer of its own. Safe to construct under the lock: the metrics read
    /// pools outside their own lock, so nothing holding it waits for this one. The meter is created first, outside
    /// the lock: creating it runs the InstrumentPublished callbacks of listeners already started, on this thread, and
    /// one that used the shared pool would enter the lock again (it is reentrant) and build a second core, which this
    /// one then replaced; or, run by another thread's first pool, would wait for this lock while this thread waited
    /// for the meter.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static PoolCore CreateShared()
    {
        NativeArrayPoolMetrics.EnsureMeter();
        lock (s_sharedCreation)
        {
            PoolCore? core = s_shared;
            if (core is null)
            {
                core = new PoolCore(NativePoolOptions.FromEnvironment(), isShared: true);
                Volatile.Write(ref s_shared, core);
            }
            return core;
        }
    }

    public Arena Arena { get; }

    /// <summary>
    /// The record behind every empty lease of this pool (<c>Rent(0)</c>, a resize to 0): no memory (address 0,
    /// capacity 0), a generation that stays 1 (odd: rented) forever, and in no list of the arena. A lease names its
    /// pool only through its record (see <see cref="NativeBuffer{T}"/>), so an empty lease needs one too. Nothing
    /// ever returns it: the facades check the lease's length first.
    /// </summary>
    public Allocation EmptyLease { get; }
    public bool IsShared { get; }
    public PoolDiagnostics Diagnostics { get; }
    public string Name => Diagnostics.Name;
    public bool UseThreadCaches { get; }
    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    // ---------------- rent, return, resize ----------------

    /// <summary>Rents an allocation of <paramref name="sizeClass"/> and returns its new (odd) generation.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Allocation Rent(int sizeClass, out int generation) => Rent(ThreadSharedCache, sizeClass, out generation);

    /// <summary>
    /// The calling thread's cache of the shared pool, null until the thread first uses it. Callers read it before
    /// checking their arguments, so that the thread-static read is on every path to a following Return (see
    /// <see cref="GetCache"/>), and pass it to <see cref="Rent(ThreadCache?, int, out int)"/> whatever pool they use.
    /// </summary>
    internal static ThreadCache? ThreadSharedCache
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => t_sharedCache;
    }

    /// <summary>
    /// Rents through the calling thread's cache: <paramref name="sharedCache"/> (<see cref="ThreadSharedCache"/>,
    /// read by the caller) when this is the shared core and the thread has one, else the cache GetCache finds.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Allocation Rent(ThreadCache? sharedCache, int sizeClass, out int generation)
    {
        // The shared core is never disposed (its Dispose throws), so its rents skip the disposal check.
        if (IsShared && sharedCache is not null)
            return StartLease(sharedCache, sizeClass, out generation);
        ThreadCache cache = GetCache();
        Allocation allocation = StartLease(cache, sizeClass, out generation);
        // After publishing the lease: a disposed pool's caches still hold records of memory that is unmapped or
        // about to be. Either this read sees the flag, or Dispose (which flushes every processor's stores before it
        // looks at generations) sees this lease and keeps its memory; never neither.
        if (Volatile.Read(ref _disposed) != 0)
            RentAfterDisposal(cache, allocation, generation);
        return allocation;
    }

    /// <summary>Takes an allocation from <paramref name="cache"/> and publishes its new (odd) generation.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Allocation StartLease(ThreadCache cache, int sizeClass, out int generation)
    {
        Allocation allocation = cache.Rent(sizeClass);
        generation = allocation.Generation + 1;
        Volatile.Write(ref allocation.Generation, generation);
        return allocation;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void RentAfterDisposal(ThreadCache cache, Allocation allocation, int generation)
    {
        // End the lease just taken, whichever side of Dispose's sweep it fell on, then report the disposal.
        cache.UncountRent(allocation);
        if (!TryRetire(allocation, generation))
            Arena.ReleaseOrphan(allocation, generation);
        ThrowHelper.ThrowPoolDisposed();
    }

    /// <summary>Rents from the arena what <paramref name="cache"/> could not serve, and counts it there.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal Allocation RentSlow(ThreadCache cache, int sizeClass)
    {
        if (!TryEnterOperation())
            ThrowHelper.ThrowPoolDisposed();
        Allocation allocation = null!;
        ExceptionDispatchInfo? failure = null;
        try
        {
            if (cache.TrimEpoch != Volatile.Read(ref _trimEpoch))
            {
                cache.TrimEpoch = _trimEpoch;
                cache.Flush();
            }
            // Never from the guard's quarantine: what waits there is what stale references may still reach.
            allocation = Arena.Allocate(sizeClass);
            if (_zeroOnRent)
                Arena.Zero(allocation.Address, allocation.Capacity);
        }
        catch (Exception e)
        {
            failure = ExceptionDispatchInfo.Capture(e); // thrown again after the operation (see the remarks on the type)
        }
        finally
        {
            ExitOperation();
        }
        failure?.Throw();
        cache.CountRent(allocation);
        _tracker?.OnRent(allocation);
        if (NativeArrayPoolEventSource.Log.IsEnabled(EventLevel.Verbose, NativeArrayPoolEventSource.Keywords.Leases))
            NativeArrayPoolEventSource.Log.BufferRented(Name, allocation.Capacity, sizeClass);
        return allocation;
    }

    /// <summary>Retires the lease (allocation, generation) and takes the memory back. Throws on a stale or double return.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Return(Allocation allocation, int generation, bool clear, string paramName)
    {
        Debug.Assert(allocation != EmptyLease, "the facades keep empty leases away from the core");
        // The shared pool in the default mode tests one flag. Every mode stays inlined: taking the compare-and-swap
        // mode out of line made a pair in that mode 3x slower (30 against 10 ns, docs/benchmarks.md).
        if (!clear && _sharedPlainReturns)
        {
            if (!IsCurrent(allocation, generation))
                ThrowStale(allocation, generation, paramName);
            EndSharedLease(allocation, generation);
            return;
        }
        if (clear || !_plainReturns)
        {
            if (clear || _zeroOnRent)
            {
                ReturnClearing(allocation, generation, paramName);
                return;
            }
            if (!TryRetire(allocation, generation))
                ThrowStale(allocation, generation, paramName);
        }
        else if (!TryEndPlain(allocation, generation))
        {
            ThrowStale(allocation, generation, paramName);
        }
        TakeBack(allocation);
    }

    /// <summary>
    /// Whether (allocation, generation) is the current lease: the record still carries the lease's generation, and
    /// that generation is odd (a forged even one, which would name a free allocation, never matches).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsCurrent(Allocation allocation, int generation) =>
        ((allocation.Generation ^ generation) | (~generation & 1)) == 0;

    /// <summary>
    /// Ends the lease (allocation, generation) if it is current, in the pool's mode (see the remarks on the type),
    /// and reports whether it did. After the plain store, the disposed flag is read: Dispose flushes every
    /// processor's stores before it sweeps the generations, so either this read sees the flag, or the sweep sees
    /// the ended lease and leaves the record alone. A return that sees the flag lets an orphaned record go and
    /// reports the disposal.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryEnd(Allocation allocation, int generation) =>
        _detectRacingReturns ? TryRetire(allocation, generation) : TryEndPlain(allocation, generation);

    /// <summary>The default mode's end of a lease (see <see cref="TryEnd"/>): a plain check and store.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryEndPlain(Allocation allocation, int generation)
    {
        if (!IsCurrent(allocation, generation))
            return false;
        Volatile.Write(ref allocation.Generation, generation + 1);
        if (Volatile.Read(ref _disposed) != 0)
            EndedAfterDisposal(allocation, generation);
        return true;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void EndedAfterDisposal(Allocation allocation, int generation)
    {
        // The sweep either ended this lease too (the record is an orphan: its memory goes now) or saw it ended
        // (its memory went with the arena). Either way there is nothing to take back.
        Arena.ReleaseOrphan(allocation, generation);
        ThrowHelper.ThrowPoolDisposed();
    }

    /// <summary>
    /// Ends the lease (allocation, generation) for <see cref="NativeBuffer{T}.Dispose"/>: as Return for a current
    /// lease; for a lease that already ended it does nothing but count (a second Dispose, or Dispose after Return, as
    /// <see cref="IDisposable"/> allows: the generation has moved on, so no later lease can be harmed); for a lease
    /// its pool's disposal ended, it lets the memory go.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void DisposeLease(Allocation allocation, int generation)
    {
        Debug.Assert(allocation != EmptyLease, "the facades keep empty leases away from the core");
        if (!_sharedPlainReturns)
        {
            DisposeLeaseInMode(allocation, generation);
            return;
        }
        // The shared core in the default mode, as its Return, with no disposal to catch.
        if (IsCurrent(allocation, generation))
            EndSharedLease(allocation, generation);
        else
            Interlocked.Increment(ref _redundantDisposes);
    }

    /// <summary>
    /// Ends the current lease (allocation, generation) of the shared core in the default mode and takes the memory
    /// back. The shared core is never disposed (its Dispose throws), so a plain store ends the lease, with no disposal
    /// check after it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void EndSharedLease(Allocation allocation, int generation)
    {
        Volatile.Write(ref allocation.Generation, generation + 1);
        (t_sharedCache ?? CreateCache()).TakeBack(allocation, this);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void DisposeLeaseInMode(Allocation allocation, int generation)
    {
        bool ended;
        try
        {
            ended = TryEnd(allocation, generation);
        }
        catch (ObjectDisposedException)
        {
            return; // the pool was disposed as this lease ended: its memory is gone or was let go
        }
        if (ended)
        {
            if (!_zeroOnRent || ClearRetired(allocation))
                TakeBack(allocation);
            return;
        }
        if (!(IsDisposed && Arena.ReleaseOrphan(allocation, generation)))
            Interlocked.Increment(ref _redundantDisposes);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ReturnClearing(Allocation allocation, int generation, string paramName)
    {
        if (!TryEnd(allocation, generation))
            ThrowStale(allocation, generation, paramName);
        if (!ClearRetired(allocation))
            ThrowHelper.ThrowPoolDisposed();
        TakeBack(allocation);
    }

    /// <summary>Zeroes a retired allocation; false once the pool is disposed, which took the memory (nothing to zero).</summary>
    private bool ClearRetired(Allocation allocation)
    {
        // The lease is retired but the record is in no cache or free list yet: only Dispose could take the memory
        // now, and it waits for this operation.
        if (!TryEnterOperation())
            return false;
        try
        {
            Arena.Zero(allocation.Address, allocation.Capacity);
        }
        finally
        {
            ExitOperation();
        }
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void TakeBack(Allocation allocation) => GetCache().TakeBack(allocation, this);

    /// <summary>
    /// Moves the allocation from the lease's generation to the next (even) one, if the lease is current. Leases
    /// only ever carry odd generations; the odd comparand keeps a forged even one from ever swapping (which would
    /// mark a free allocation rented), and the parity test rejects it when the value it found equals it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryRetire(Allocation allocation, int generation)
    {
        int found = Interlocked.CompareExchange(ref allocation.Generation, generation + 1, generation | 1);
        return ((found ^ generation) | (~generation & 1)) == 0;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowStale(Allocation allocation, int generation, string paramName)
    {
        if (IsDisposed)
        {
            // A lease out at disposal ends here (its memory goes now); any other is stale as well.
            if (!Arena.ReleaseOrphan(allocation, generation))
                Interlocked.Increment(ref _misuseDetected);
            ThrowHelper.ThrowPoolDisposed();
        }
        Interlocked.Increment(ref _misuseDetected);
        Diagnostics.OnMisuse(MisuseKind.DoubleReturn);
        ThrowHelper.ThrowStaleReturn(paramName, allocation.Capacity, generation, Volatile.Read(ref allocation.Generation),
            _tracker?.WhereEnded(allocation, generation));
    }

    /// <summary>Counts a misuse the pool facade detected before reaching the core (default, foreign or forged lease).</summary>
    public void NoteMisuse() => Interlocked.Increment(ref _misuseDetected);

    /// <summary>Gives the arena an allocation the thread cache did not keep (no room, a class it does not hold, or no caches).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal void ReturnSlow(Allocation allocation)
    {
        if (NativeArrayPoolEventSource.Log.IsEnabled(EventLevel.Verbose, NativeArrayPoolEventSource.Keywords.Leases))
            NativeArrayPoolEventSource.Log.BufferReturned(Name, allocation.Capacity, allocation.SizeClass);
        NativeLeaseInfo? lease = _tracker?.OnReturn(allocation);
        if (!TryEnterOperation())
            return; // the memory went with the pool
        ExceptionDispatchInfo? failure = null;
        try
        {
            if (_guard is not null)
                _guard.Quarantine(allocation, lease?.RentStackTrace); // may report a stale write it found evicting
            else
                Arena.Free(allocation);
        }
        catch (Exception e)
        {
            failure = ExceptionDispatchInfo.Capture(e);
        }
        finally
        {
            ExitOperation();
        }
        failure?.Throw();
    }

    /// <summary>
    /// Resizes the leased allocation to <paramref name="newClass"/>. On success the old lease is retired and the
    /// returned allocation carries <paramref name="newGeneration"/>; on failure the old lease is still valid.
    /// </summary>
    public Allocation Resize(Allocation allocation, int generation, int newClass, bool clearOld, string paramName, out int newGeneration)
    {
        // Enter before taking the lease: while the lease is held (even generation) Dispose must not sweep past it.
        if (!TryEnterOperation())
            ThrowHelper.ThrowPoolDisposed(); // the lease stays as it is: only its Return or Dispose lets it go
        // Take the lease: the even generation keeps a racing Return or Resize of the same lease out. A stale lease
        // leaves the operation before it is reported: the misuse event may reach a listener that disposes the pool.
        if (!TryRetire(allocation, generation))
        {
            ExitOperation();
            ThrowStale(allocation, generation, paramName);
        }
        Allocation result = null!;
        long oldCapacity = allocation.Capacity;
        ResizeOutcome outcome = default;
        ExceptionDispatchInfo? failure = null;
        newGeneration = 0;
        try
        {
            nint oldAddress = allocation.Address;
            // Guarded: what the buffer leaves behind goes to the quarantine rather than back to the arena.
            List<Allocation>? vacated = _guard is null ? null : new List<Allocation>();
            try
            {
                result = Arena.Resize(allocation, newClass, clearOld, vacated, ref outcome);
            }
            catch
            {
                Volatile.Write(ref allocation.Generation, generation); // the buffer is intact: give the lease back
                throw;
            }
            if (vacated is { Count: > 0 })
                QuarantineVacated(allocation, vacated);
            if (_tracker is not null || _zeroOnRent)
                AfterResize(allocation, oldCapacity, oldAddress, result);
            newGeneration = result.Generation + 1;
            Volatile.Write(ref result.Generation, newGeneration);
        }
        catch (Exception e)
        {
            failure = ExceptionDispatchInfo.Capture(e);
        }
        finally
        {
            ExitOperation();
        }
        // Outside the arena's lock and after the operation, so a listener may use the pool, or dispose it,
        // without waiting for itself. Also when the resize threw: the budget's declines are why it may have.
        Diagnostics.OnResized(outcome.OldBytes, outcome.NewBytes, (int)outcome.GrowthPath, outcome.MovesDeclinedByBudget, this);
        failure?.Throw();
        ThreadCache cache = GetCache();
        cache.ResizedBytes += result.Capacity - oldCapacity;
        return result;
    }

    /// <summary>
    /// Guarded mode: quarantines what a resize left behind. The resize has succeeded, so a stale write found in an
    /// entry this evicts is reported by the next return or trim instead of failing this call.
    /// </summary>
    private void QuarantineVacated(Allocation old, List<Allocation> vacated)
    {
        string? rentStack = _tracker?.RentStackOf(old);
        foreach (Allocation piece in vacated)
            _guard!.Quarantine(piece, rentStack, throwStale: false);
    }

    private void AfterResize(Allocation old, long oldCapacity, nint oldAddress, Allocation result)
    {
        // With ZeroOnRent the part a resize adds reads zero too, whichever growth path served it. When the pages
        // moved (mremap: same record, new address) the kernel made the added part of fresh zero pages already,
        // and writing zeros would only commit memory the tenant may never touch.
        bool pagesMoved = result == old && result.Address != oldAddress;
        if (_zeroOnRent && result.Capacity > oldCapacity && !pagesMoved)
            Arena.Zero(result.Address + (nint)oldCapacity, result.Capacity - oldCapacity);
        _tracker?.OnResize(old, result);
    }

    // ---------------- caches ----------------

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ThreadCache GetCache()
    {
        // Read before the branch, on every path: Rent's read then dominates Return's, so where a pair inlines into one
        // method the JIT computes the thread-static base once for both (ArrayPool<T>.Shared's own reads get this).
        ThreadCache? shared = t_sharedCache;
        if (IsShared)
        {
            // Only one shared core is ever published, so no owner check is needed.
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
            // A disposed pool's id may already be another pool's: never evict that pool's cache from this thread.
            if (IsDisposed)
                return cache;
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
            // counters into the pool's folded totals, so statistics never miss them in between.
            _caches.Add(new WeakReference<ThreadCache>(cache, trackResurrection: true));
        }
        return cache;
    }

    /// <summary>
    /// Called by a cache's finalizer when its thread has ended: folds its counters into the pool's totals (the
    /// <c>_folded*</c> fields) and frees its memory.
    /// </summary>
    public void FoldDeadCache(ThreadCache cache)
    {
        if (TryEnterOperation())
        {
            try
            {
                cache.Flush();
            }
            finally
            {
                ExitOperation();
            }
        }
        lock (_cachesLock)
        {
            cache.AddCountsTo(ref _foldedCounts);
            cache.Folded = true;
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
        LeaseCounts counts;
        lock (_cachesLock)
        {
            counts = _foldedCounts;
            foreach (WeakReference<ThreadCache> reference in _caches)
            {
                if (reference.TryGetTarget(out ThreadCache? cache) && !cache.Folded)
                    cache.AddCountsTo(ref counts);
            }
        }
        Arena arena = Arena;
        (int quarantined, int protectedBuffers, long quarantinedBytes) = _guard?.Counts ?? (0, 0, 0);
        return new NativePoolStatistics
        {
            MisuseDetected = Volatile.Read(ref _misuseDetected),
            RedundantDisposes = Volatile.Read(ref _redundantDisposes),
            Trims = Volatile.Read(ref _trims),
            PressureTrims = Volatile.Read(ref _pressureTrims),
            BytesDiscarded = Volatile.Read(ref arena.BytesDiscarded),
            TrackedLeases = _tracker?.Count ?? 0,
            LeaksReported = Volatile.Read(ref _leaksReported),
            LeakedBytes = Volatile.Read(ref _leakedBytes),
            StaleWritesDetected = _guard?.StaleWrites ?? 0,
            QuarantinedBuffers = quarantined,
            QuarantinedBytes = quarantinedBytes,
            ProtectedBuffers = protectedBuffers,
            MappedBytes = arena.ReservedBytes,
            InUseBytes = counts.InUseBytes,
            KernelMappings = arena.KernelMappings,
            PeakKernelMappings = Volatile.Read(ref arena.PeakKernelMappings),
            MappingBudget = arena.Settings.MappingBudget,
            MappingReserve = arena.Settings.MappingReserve,
            DeclinedByMappingReserve = Volatile.Read(ref arena.DeclinedByMappingReserve),
            ProcessMappingReads = Volatile.Read(ref arena.ProcessMappingReads),
            Reservations = arena.ReservationCount,
            DetachedMappings = arena.DetachedCount,
            Rents = counts.Rents,
            BytesRented = counts.RentedBytes,
            Returns = counts.Returns,
            GrowsInPlace = Volatile.Read(ref arena.GrowsInPlace),
            GrowsRemappedFixed = Volatile.Read(ref arena.GrowsRemappedFixed),
            GrowsRemapped = Volatile.Read(ref arena.GrowsRemapped),
            GrowsCopied = Volatile.Read(ref arena.GrowsCopied),
            BytesCopied = Volatile.Read(ref arena.BytesCopied),
            MovesDeclinedByBudget = Volatile.Read(ref arena.MovesDeclinedByBudget),
            MovesFailed = Volatile.Read(ref arena.MovesFailed),
            Backend = arena.Os.Name,
        };
    }

    /// <summary>
    /// The pool's name and the settings that change how it behaves, for the pools' <c>ToString</c>:
    /// <c>"batch": Linux, thread caches, mapping budget 655, reserve 256</c>.
    /// </summary>
    public string Describe()
    {
        ArenaSettings settings = Arena.Settings;
        var text = new System.Text.StringBuilder();
        text.Append('"').Append(Name).Append("\": ").Append(Arena.Os.Name);
        text.Append(UseThreadCaches ? ", thread caches" : ", no thread caches");
        if (_guard is not null)
            text.Append(", guarded");
        else if (_tracker is not null)
            text.Append(", tracking leases");
        if (_zeroOnRent)
            text.Append(", zero on rent");
        text.Append(", mapping budget ").Append(settings.MappingBudget).Append(", reserve ").Append(settings.MappingReserve);
        if (IsDisposed)
            text.Append(", disposed");
        return text.ToString();
    }

    // ---------------- lifetime ----------------

    public void Dispose()
    {
        if (IsShared)
            ThrowHelper.ThrowSharedPoolDispose();
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        // Empty leases end with the others: they carry the constant 1, so this can never be matched again.
        Volatile.Write(ref EmptyLease.Generation, 2);
        _reclaimer.Dispose();
        // Every rent past this point sees the flag, or its lease is visible to the sweep below (see Rent).
        Interlocked.MemoryBarrierProcessWide();
        // Operations in flight finish on memory that is still mapped; new ones see the flag and refuse.
        var wait = new SpinWait();
        while (Volatile.Read(ref _operations) != 0)
            wait.SpinOnce();
        _guard?.Clear();
        // Every lease still in the table is a leak: report it before the memory goes.
        if (_tracker is not null)
        {
            foreach (NativeLeaseInfo leak in _tracker.TakeAll())
                ReportLeak(leak);
        }
        // End every lease still out, so using one throws; its memory stays mapped until that lease is returned or
        // disposed, for code that checked it a moment before. All other memory is unmapped now.
        Arena.Dispose(EndLeaseAtDisposal);
        lock (s_idLock)
            s_freeIds.Push(_id);
    }

    private static bool EndLeaseAtDisposal(Allocation record)
    {
        int generation = Volatile.Read(ref record.Generation);
        return (generation & 1) != 0 && Interlocked.CompareExchange(ref record.Generation, generation + 1, generation) == generation;
    }

    /// <summary>Counts a slow operation in; false (and nothing counted) once the pool is disposed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryEnterOperation()
    {
        Interlocked.Increment(ref _operations);
        if (Volatile.Read(ref _disposed) == 0)
            return true;
        Interlocked.Decrement(ref _operations);
        return false;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ExitOperation() => Interlocked.Decrement(ref _operations);

    private static int TakeId()
    {
        lock (s_idLock)
            return s_freeIds.Count > 0 ? s_freeIds.Pop() : s_nextId++;
    }
}
