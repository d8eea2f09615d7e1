using System.Runtime.InteropServices;

namespace NativeBuffers.Interop;

internal static partial class Libc
{
    /// <summary>munmap(2). Returns 0 on success, -1 with errno on failure. Unmapping the middle of a mapping splits it (one more VMA), and may therefore fail with ENOMEM at the map-count limit.</summary>
    [LibraryImport(LibraryName, EntryPoint = "munmap", SetLastError = true)]
    internal static partial int MUnmap(nint address, nuint length);
}
