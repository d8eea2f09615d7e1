namespace NativeBuffers;

/// <summary>
/// The ways a buffer can grow past its block, in the order the pool tries them. Options can switch paths
/// off, to force a path in tests or to rule out page moves while debugging.
/// </summary>
[Flags]
public enum GrowthPaths
{
    /// <summary>No path: every growth that does not fit the current block fails.</summary>
    None = 0,
    /// <summary>The bigger block still fits where the buffer is (its buddies are free): no syscall, no copy.</summary>
    InPlace = 1,
    /// <summary>The pages move with <c>mremap(MREMAP_MAYMOVE|MREMAP_FIXED)</c> into a free block the pool already owns.</summary>
    RemapFixed = 2,
    /// <summary>The pages move with plain <c>mremap(MREMAP_MAYMOVE)</c> to where the kernel chooses.</summary>
    Remap = 4,
    /// <summary>A new block is taken and the contents are copied.</summary>
    Copy = 8,
    /// <summary>Every path, in the order above.</summary>
    All = InPlace | RemapFixed | Remap | Copy,
}
