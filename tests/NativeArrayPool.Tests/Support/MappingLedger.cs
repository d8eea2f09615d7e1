using NativeBuffers.Arenas;
using NativeBuffers.Os;

namespace NativeBuffers.Tests.Support;

/// <summary>
/// Every address range an arena has mapped during a test, collected from <see cref="Arena.MappedRanges"/> after
/// each step, so that after Dispose the test can ask the kernel whether anything is still mapped there.
/// </summary>
internal sealed class MappingLedger
{
    private readonly HashSet<(nint Start, nint End)> _ranges = new();

    public void Record(Arena arena)
    {
        foreach ((nint start, nint end) in arena.MappedRanges())
            _ranges.Add((start, end));
    }

    public int Count => _ranges.Count;

    /// <summary>The kernel mappings (from /proc/self/maps) that intersect any range ever recorded; empty when nothing leaked.</summary>
    public List<string> Survivors()
    {
        var survivors = new List<string>();
        List<(nint Start, nint End)> mappings = ProcessMemory.ReadMappings() ?? new();
        foreach ((nint start, nint end) in mappings)
        {
            foreach ((nint rs, nint re) in _ranges)
            {
                if (start < re && rs < end)
                {
                    survivors.Add($"{start:x}-{end:x} intersects arena range {rs:x}-{re:x}");
                    break;
                }
            }
        }
        return survivors;
    }
}
