using System.Diagnostics.Tracing;
using System.Runtime.CompilerServices;
using NativeBuffers.Arenas;

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

    /// <summary>Traces a growth by <paramref name="path"/> (the arena counts it) and passes the allocation through.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Allocation Grown(Allocation allocation, long oldBytes, GrowthPaths path)
    {
        NativeArrayPoolEventSource log = NativeArrayPoolEventSource.Log;
        if (log.IsEnabled(EventLevel.Informational, NativeArrayPoolEventSource.Keywords.Growth))
            log.BufferGrown(Name, oldBytes, allocation.Capacity, path);
        return allocation;
    }

    /// <summary>Traces a page move declined by the mapping budget (the arena counts it, under its lock).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public void OnBudgetReached(long bufferBytes, int kernelMappings, int budget)
    {
        NativeArrayPoolEventSource log = NativeArrayPoolEventSource.Log;
        if (log.IsEnabled(EventLevel.Warning, NativeArrayPoolEventSource.Keywords.Memory))
            log.MappingBudgetReached(Name, bufferBytes, kernelMappings, budget);
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
