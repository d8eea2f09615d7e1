using NativeBuffers.Os;

namespace NativeBuffers.Tests.Support;

/// <summary>What /proc/self/maps says about address ranges.</summary>
internal static class KernelView
{
    /// <summary>True when every byte of [start, end) lies in some kernel mapping.</summary>
    public static bool IsFullyMapped(nint start, nint end)
    {
        List<(nint Start, nint End)> mappings = ProcSelf.ReadMappings()!;
        mappings.Sort((a, b) => a.Start.CompareTo(b.Start));
        nint cursor = start;
        foreach ((nint s, nint e) in mappings)
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

    /// <summary>True when no byte of [start, end) lies in a kernel mapping.</summary>
    public static bool IsUnmapped(nint start, nint end) =>
        ProcSelf.ReadMappings()!.All(m => m.End <= start || m.Start >= end);
}
