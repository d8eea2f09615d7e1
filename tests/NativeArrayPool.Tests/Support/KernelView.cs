using NativeBuffers.Os;

namespace NativeBuffers.Tests.Support;

/// <summary>What /proc/self/maps says now about address ranges (see <see cref="MappingLedger"/> for what an arena ever mapped).</summary>
internal static class KernelView
{
    /// <summary>True when every byte of [start, end) lies in some kernel mapping.</summary>
    public static bool IsFullyMapped(nint start, nint end) => Covers(ProcSelf.ReadMappings()!, start, end);

    /// <summary>True when no byte of [start, end) lies in a kernel mapping.</summary>
    public static bool IsUnmapped(nint start, nint end) =>
        ProcSelf.ReadMappings()!.All(m => m.End <= start || m.Start >= end);

    /// <summary>Kernel mappings inside the pool's current ranges: what the pool really costs the process now.</summary>
    public static int MappingsOf<T>(NativeArrayPool<T> pool) where T : unmanaged =>
        ProcSelf.CountMappingsWithin(pool.Core.Arena.MappedRanges());

    /// <summary>True when the union of <paramref name="ranges"/> (in any order, overlapping or not) covers [start, end).</summary>
    public static bool Covers(IEnumerable<(nint Start, nint End)> ranges, nint start, nint end)
    {
        nint cursor = start;
        foreach ((nint s, nint e) in ranges.OrderBy(r => r.Start))
        {
            if (e <= cursor)
                continue;
            if (s > cursor)
                return false;
            cursor = e;
            if (cursor >= end)
                return true;
        }
        return cursor >= end;
    }
}
