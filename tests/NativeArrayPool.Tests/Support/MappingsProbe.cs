using NativeBuffers.Os;

namespace NativeBuffers.Tests.Support;

/// <summary>Remembers every range a pool's arena mapped, to check afterwards that the kernel has none of them left.</summary>
internal sealed class MappingsProbe
{
    private readonly List<(nint Start, nint End)> _ever = new();

    public void Record<T>(NativeArrayPool<T> pool) where T : unmanaged => _ever.AddRange(pool.Core.Arena.MappedRanges());

    /// <summary>Kernel mappings (lines of /proc/self/maps) that intersect anything the arena ever mapped.</summary>
    public int Remaining() => ProcSelf.CountMappingsWithin(_ever);

    /// <summary>Kernel mappings inside the pool's current ranges: what the pool really costs the process now.</summary>
    public static int KernelMappingsOf<T>(NativeArrayPool<T> pool) where T : unmanaged =>
        ProcSelf.CountMappingsWithin(pool.Core.Arena.MappedRanges());
}
