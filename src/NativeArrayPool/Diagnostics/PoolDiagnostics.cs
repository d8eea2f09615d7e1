using System.Diagnostics.Tracing;
using System.Runtime.CompilerServices;

namespace NativeBuffers.Diagnostics;

/// <summary>
/// One pool's diagnostic identity and the counters of its rare events (trims, misuse, leaks), each counted and
/// traced in one place so the pool's call sites stay one line. Rent, return and growth counters live where
/// they are counted (thread caches, arena); this holds only what happens off the hot path.
/// </summary>
/// <remarks>Thread-safety: all members are thread-safe (counters move with Interlocked).</remarks>
internal sealed class PoolDiagnostics
{
    public PoolDiagnostics(string name) => Name = name;

    /// <summary>The <c>pool.name</c> tag of metrics and the <c>pool</c> payload of events.</summary>
    public string Name { get; }

    /// <summary>
    /// Traces what a resize did (the arena counted it): each page move the mapping budget declined
    /// (<paramref name="movesDeclinedByBudget"/>), then the growth and its <paramref name="growthPath"/> (a
    /// <see cref="GrowthPaths"/> flag; 0 for a shrink, no change, or a growth that threw). The pool calls this after
    /// the arena's call is over (even when it threw), so no event runs under the arena's lock; reading
    /// <see cref="IObservedPool.KernelMappings"/> here takes that lock briefly.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void OnResized(long oldBytes, long newBytes, int growthPath, int movesDeclinedByBudget, IObservedPool pool)
    {
        if (NativeArrayPoolEventSource.Log.IsEnabled())
            TraceResized(oldBytes, newBytes, growthPath, movesDeclinedByBudget, pool);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void TraceResized(long oldBytes, long newBytes, int growthPath, int movesDeclinedByBudget, IObservedPool pool)
    {
        NativeArrayPoolEventSource log = NativeArrayPoolEventSource.Log;
        if (movesDeclinedByBudget > 0 && log.IsEnabled(EventLevel.Warning, NativeArrayPoolEventSource.Keywords.Memory))
        {
            // The mapping count now, not at the decline: the trace reads it without holding up the arena.
            int kernelMappings = pool.KernelMappings;
            for (int i = 0; i < movesDeclinedByBudget; i++)
                log.MappingBudgetReached(Name, oldBytes, kernelMappings, pool.MappingBudget);
        }
        if (growthPath != 0 && log.IsEnabled(EventLevel.Informational, NativeArrayPoolEventSource.Keywords.Growth))
            log.BufferGrown(Name, oldBytes, newBytes, growthPath);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    public void OnTrimmed(long bytesReleased, TrimReason reason)
    {
        NativeArrayPoolEventSource log = NativeArrayPoolEventSource.Log;
        if (log.IsEnabled(EventLevel.Informational, NativeArrayPoolEventSource.Keywords.Memory))
            log.PoolTrimmed(Name, bytesReleased, reason);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    public void OnMisuse(MisuseKind kind)
    {
        NativeArrayPoolEventSource log = NativeArrayPoolEventSource.Log;
        if (log.IsEnabled(EventLevel.Warning, NativeArrayPoolEventSource.Keywords.Misuse))
            log.MisuseDetected(Name, kind);
    }

    /// <summary>
    /// Traces a lease that was never returned (the pool counts it): called once per lease still out when a pool
    /// that tracks leases is disposed.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public void OnLeak(long bytes, int sizeClass)
    {
        NativeArrayPoolEventSource log = NativeArrayPoolEventSource.Log;
        if (log.IsEnabled(EventLevel.Warning, NativeArrayPoolEventSource.Keywords.Misuse))
            log.LeakDetected(Name, bytes, sizeClass);
    }
}
