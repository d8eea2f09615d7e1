using System.Globalization;
using NativeBuffers.Arenas;
using NativeBuffers.Os;

namespace NativeBuffers.Tests.Support;

/// <summary>
/// Every address range an arena has mapped during a test, collected from <see cref="Arena.MappedRanges"/> after
/// each step, so that after Dispose the test can ask the kernel whether anything of the arena's is still mapped.
/// </summary>
/// <remarks>
/// The kernel reuses address space at once: after the arena unmaps a range, the runtime (a thread stack, the
/// JIT) may map something there. So a surviving mapping counts as the arena's only if it looks like one of its
/// mappings — anonymous, private, read-write, MAP_NORESERVE — and lies wholly inside ranges the arena had mapped (all the
/// arena's mappings do, and a foreign one never merges with them: different flags).
/// </remarks>
internal sealed class MappingLedger
{
    private readonly HashSet<(nint Start, nint End)> _ranges = new();

    public void Record(Arena arena)
    {
        foreach ((nint start, nint end) in arena.MappedRanges())
            _ranges.Add((start, end));
    }

    public void Record<T>(NativeArrayPool<T> pool) where T : unmanaged => Record(pool.Core.Arena);

    public int Count => _ranges.Count;

    /// <summary>
    /// Kernel mappings (lines of /proc/self/maps) that intersect anything ever recorded, whatever they look like:
    /// stricter than <see cref="Survivors"/>, so only for tests that run alone (<see cref="SerialKernelCollection"/>).
    /// </summary>
    public int Remaining() => ProcSelf.CountMappingsWithin(_ranges.ToList());

    /// <summary>Arena-like kernel mappings (from /proc/self/smaps) inside ranges ever recorded; empty when nothing leaked.</summary>
    public List<string> Survivors()
    {
        var survivors = new List<string>();
        string? header = null;
        foreach (string line in File.ReadLines("/proc/self/smaps"))
        {
            if (IsHeader(line))
            {
                header = line;
                continue;
            }
            if (header is null || !line.StartsWith("VmFlags:", StringComparison.Ordinal))
                continue;
            // start-end perms offset dev inode [path]
            string[] fields = header.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            string[] bounds = fields[0].Split('-');
            nint start = (nint)long.Parse(bounds[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            nint end = (nint)long.Parse(bounds[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            // The arena maps anonymous, private, read-write, MAP_NORESERVE ("nr") memory, and moves keep those flags.
            bool arenaLike = fields[1] == "rw-p" && fields[4] == "0" && (fields.Length < 6 || fields[5].Trim().Length == 0)
                             && line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains("nr");
            if (arenaLike && Intersects(start, end) && KernelView.Covers(_ranges, start, end))
                survivors.Add($"{header.Trim()} [{line.Trim()}]");
            header = null;
        }
        return survivors;
    }

    private static bool IsHeader(string line)
    {
        int dash = line.IndexOf('-');
        int space = line.IndexOf(' ');
        return dash > 0 && space > dash && line.AsSpan(0, dash).ContainsAnyExcept("0123456789abcdef") == false;
    }

    private bool Intersects(nint start, nint end) => _ranges.Any(r => start < r.End && r.Start < end);
}
