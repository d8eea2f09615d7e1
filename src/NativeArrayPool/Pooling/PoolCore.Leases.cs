using NativeBuffers.Arenas;

namespace NativeBuffers.Pooling;

// Leak reporting (the lease table of TrackLeases/Guarded), and the
// unchecked return that benchmarks compare Return against to measure the default-mode checks.
internal sealed partial class PoolCore
{
    /// <summary>The leases out, from the lease table. Throws when the pool does not track leases.</summary>
    public List<NativeLeaseInfo> GetLiveLeases()
    {
        if (_tracker is null)
            ThrowHelper.ThrowNotTracking();
        return _tracker.Snapshot();
    }

    private void ReportLeak(NativeLeaseInfo info)
    {
        Interlocked.Increment(ref _leaksReported);
        Interlocked.Add(ref _leakedBytes, info.Bytes);
        Diagnostics.OnLeak(info.Bytes, Arenas.SizeClasses.ClassOf(Math.Max(1, info.Bytes)));
        _leakReported?.Invoke(info);
    }
}
