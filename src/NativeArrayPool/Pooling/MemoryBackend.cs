namespace NativeBuffers;

/// <summary>Which virtual-memory layer a pool's arenas use.</summary>
public enum MemoryBackend
{
    /// <summary>The layer <c>NATIVEARRAYPOOL_BACKEND</c> names when it is set; otherwise Linux mappings with mremap where available (Linux), the portable layer elsewhere.</summary>
    Automatic = 0,
    /// <summary>Linux mmap/mremap/madvise. Creating a pool with it elsewhere throws <see cref="PlatformNotSupportedException"/>.</summary>
    Linux = 1,
    /// <summary><see cref="System.Runtime.InteropServices.NativeMemory"/> allocations; growth beyond a block copies. Works everywhere.</summary>
    Portable = 2,
}
