using System.Runtime.InteropServices;

namespace NativeBuffers.Interop;

internal static partial class Libc
{
    internal const int MREMAP_MAYMOVE = 1;
    /// <summary>Requires <see cref="MREMAP_MAYMOVE"/>. The kernel unmaps the destination range before it validates the source, so a failed call may leave the destination unmapped.</summary>
    internal const int MREMAP_FIXED = 2;

    /// <summary>
    /// mremap(2). C declares it variadic; the fifth argument (new address) is only read with
    /// <see cref="MREMAP_FIXED"/>. Passing it always is safe on the x86-64 and arm64 Linux ABIs, where variadic
    /// integer arguments travel in the same registers as fixed ones. Returns <see cref="MAP_FAILED"/> on failure.
    /// Growing requires the source range to lie inside one VMA (EFAULT otherwise).
    /// </summary>
    [LibraryImport(LibraryName, EntryPoint = "mremap", SetLastError = true)]
    internal static partial nint MRemap(nint oldAddress, nuint oldLength, nuint newLength, int flags, nint newAddress);
}
