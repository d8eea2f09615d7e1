using System.Runtime.InteropServices;

namespace NativeBuffers.Pooling;

/// <summary>
/// Gives a pool's free memory back to the OS by policy, besides explicit Trim:
/// <list type="bullet">
/// <item><b>idle</b> (<see cref="NativePoolOptions.IdleTrimDelay"/>): a timer ticks every half delay; reservations
/// where nothing was freed for the whole delay have their free pages discarded (Arena.DiscardIdle), and
/// threads are asked to flush their caches on their next miss. Like Kestrel's idle eviction, but by pages.</item>
/// <item><b>memory pressure</b> (<see cref="NativePoolOptions.TrimOnMemoryPressure"/>): after every gen-2 GC, if the
/// memory load is at least 90 % of the GC's high-load threshold, a full trim (ArrayPool.Shared's policy).</item>
/// </list>
/// It holds its pool weakly: an undisposed pool that becomes garbage stops its timer and gen-2 callback.
/// Both run on thread-pool or finalizer threads and never throw.
/// </summary>
internal sealed class MemoryReclaimer : IDisposable
{
    private readonly WeakReference<PoolCore> _core;
    private readonly TimeProvider _time;
    private readonly Func<bool> _underPressure;
    private readonly long _idleTicks;
    private readonly ITimer? _timer;
    private volatile bool _disposed;

    public MemoryReclaimer(PoolCore core, NativePoolOptions options)
    {
        _core = new WeakReference<PoolCore>(core);
        _time = options.TimeProviderOverride ?? TimeProvider.System;
        _underPressure = options.MemoryPressureOverride ?? IsMemoryLoadHigh;
        TimeSpan delay = options.IdleTrimDelay;
        if (delay > TimeSpan.Zero)
        {
            _idleTicks = (long)(delay.TotalSeconds * _time.TimestampFrequency);
            TimeSpan period = delay / 2;
            _timer = _time.CreateTimer(static state => ((MemoryReclaimer)state!).OnIdleTick(), this, period, period);
        }
        if (options.TrimOnMemoryPressure)
            Gen2Callback.Register(this);
    }

    /// <summary>One idle check, at the provider's current time (the timer calls it; tests call it with a fake clock).</summary>
    public long OnIdleTick()
    {
        if (_disposed || !_core.TryGetTarget(out PoolCore? core))
        {
            _timer?.Dispose();
            return 0;
        }
        try
        {
            return core.TrimIdle(_time.GetTimestamp(), _idleTicks);
        }
        catch (ObjectDisposedException)
        {
            return 0; // the pool was disposed while the tick ran
        }
    }

    /// <summary>Called after a gen-2 GC; returns false once the reclaimer is done, so the callback stops.</summary>
    private bool OnGen2()
    {
        if (_disposed || !_core.TryGetTarget(out PoolCore? core))
            return false;
        try
        {
            if (_underPressure())
                core.TrimOnPressure();
        }
        catch (Exception e) when (e is ObjectDisposedException or InvalidOperationException or InsufficientMemoryException)
        {
            // A trim that cannot run now is skipped; an exception here would tear down the finalizer thread.
        }
        return true;
    }

    private static bool IsMemoryLoadHigh()
    {
        GCMemoryInfo info = GC.GetGCMemoryInfo();
        return info.HighMemoryLoadThresholdBytes > 0 && info.MemoryLoadBytes >= info.HighMemoryLoadThresholdBytes * 0.9;
    }

    public void Dispose()
    {
        _disposed = true;
        _timer?.Dispose();
    }

    /// <summary>
    /// A finalizable object that re-registers itself: its finalizer runs after the GCs that find it unreachable,
    /// which once it is old means after every gen-2 GC (the pattern ArrayPool.Shared trims with). It holds its
    /// owner through a weak GC handle (WeakGCHandle), not a WeakReference object: a WeakReference reachable only from this object
    /// would be finalized in the same GC, its handle freed before this finalizer could read it.
    /// </summary>
    private sealed class Gen2Callback
    {
        private WeakGCHandle<MemoryReclaimer> _owner;

        private Gen2Callback(MemoryReclaimer owner) => _owner = new WeakGCHandle<MemoryReclaimer>(owner);

        public static void Register(MemoryReclaimer owner) => _ = new Gen2Callback(owner);

        ~Gen2Callback()
        {
            if (_owner.TryGetTarget(out MemoryReclaimer? owner) && owner.OnGen2())
            {
                GC.ReRegisterForFinalize(this);
                return;
            }
            _owner.Dispose();
        }
    }
}
