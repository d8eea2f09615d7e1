using System.Collections.Concurrent;
using System.Diagnostics;
using NativeBuffers.Arenas;

namespace NativeBuffers.Pooling;

/// <summary>
/// The table of leases that are out, for pools with <see cref="NativePoolOptions.TrackLeases"/> or
/// <see cref="NativePoolOptions.Guarded"/>. A lease is a struct, so nothing can notice when the last copy of one is
/// lost; instead the table knows every lease that was rented and not returned, and whoever knows that every
/// lease should be back (the pool's Dispose, a test, a shutdown hook through <c>GetLiveLeases()</c>) can report
/// the rest as leaks. No finalizer can do it: NativeMemoryPool's owner objects stay reachable from their
/// allocation records, which reuse them across leases (that is what makes Rent allocation-free).
/// Thread-safety: thread-safe. Updated only on the pool's slow paths (tracking bypasses the thread caches).
/// </summary>
internal sealed class LeaseTracker
{
    private readonly ConcurrentDictionary<Allocation, NativeLeaseInfo> _live = new(ReferenceEqualityComparer.Instance);
    // With stacks: where each allocation's last lease ended (return or resize), keyed by the generation the lease
    // was retired to, so a second return of that lease can say where the first one happened.
    private readonly ConcurrentDictionary<Allocation, (int RetiredGeneration, string Stack)> _retired = new(ReferenceEqualityComparer.Instance);
    private readonly bool _captureStacks;

    public LeaseTracker(bool captureStacks) => _captureStacks = captureStacks;

    public int Count => _live.Count;

    public void OnRent(Allocation allocation) =>
        _live[allocation] = new NativeLeaseInfo(allocation.Capacity, allocation.Address, _captureStacks ? CaptureStack() : null);

    /// <summary>Removes the lease; returns what was recorded at its rent (for the guard's stale-write reports).</summary>
    public NativeLeaseInfo? OnReturn(Allocation allocation)
    {
        if (_captureStacks)
            _retired[allocation] = (Volatile.Read(ref allocation.Generation), "returned at:" + Environment.NewLine + CaptureStack());
        return _live.TryRemove(allocation, out NativeLeaseInfo info) ? info : null;
    }

    public void OnResize(Allocation old, Allocation result)
    {
        if (_captureStacks)
            _retired[old] = (Volatile.Read(ref old.Generation), "replaced by Resize at:" + Environment.NewLine + CaptureStack());
        _live.TryRemove(old, out NativeLeaseInfo info);
        _live[result] = new NativeLeaseInfo(result.Capacity, result.Address, _captureStacks ? CaptureStack() : info.RentStackTrace);
    }

    /// <summary>The stack recorded when the lease now on <paramref name="allocation"/> was rented, if any.</summary>
    public string? RentStackOf(Allocation allocation) =>
        _live.TryGetValue(allocation, out NativeLeaseInfo info) ? info.RentStackTrace : null;

    /// <summary>Where the lease with <paramref name="leaseGeneration"/> ended, if that was recorded and nothing ended since.</summary>
    public string? WhereEnded(Allocation allocation, int leaseGeneration) =>
        _retired.TryGetValue(allocation, out var ended) && ended.RetiredGeneration == leaseGeneration + 1 ? ended.Stack : null;

    public List<NativeLeaseInfo> Snapshot() => _live.Values.ToList();

    /// <summary>Empties the table, returning what was in it (at disposal: every entry is a leak).</summary>
    public List<NativeLeaseInfo> TakeAll()
    {
        var all = new List<NativeLeaseInfo>();
        foreach (Allocation allocation in _live.Keys)
        {
            if (_live.TryRemove(allocation, out NativeLeaseInfo info))
                all.Add(info);
        }
        return all;
    }

    // The library's own frames are dropped so the trace starts at the caller. Not by a fixed count: how many of
    // them there are depends on what the JIT inlined (tier 0 inlines nothing). By name rather than through
    // StackFrame.GetMethod, which trimming and AOT may break.
    private static readonly string[] s_libraryFrames =
    [
        " NativeBuffers.Pooling.", " NativeBuffers.Arenas.", " NativeBuffers.NativeArrayPool`1.",
        " NativeBuffers.NativeBuffer`1.", " NativeBuffers.NativeMemoryPool", " System.Diagnostics.StackTrace",
    ];

    private static string CaptureStack()
    {
        string[] lines = new StackTrace(1, fNeedFileInfo: true).ToString().Split(Environment.NewLine);
        int first = 0;
        while (first < lines.Length - 1 && s_libraryFrames.Any(frame => lines[first].Contains(frame, StringComparison.Ordinal)))
            first++;
        return string.Join(Environment.NewLine, lines, first, lines.Length - first);
    }
}
