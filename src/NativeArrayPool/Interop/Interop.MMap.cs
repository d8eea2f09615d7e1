using System.Runtime.InteropServices;

namespace NativeBuffers.Interop;

internal static partial class Libc
{
    /// <summary>
    /// mmap(2). Returns <see cref="MAP_FAILED"/> (-1), not null, on failure; errno through
    /// <see cref="Marshal.GetLastPInvokeError"/>. With <see cref="MAP_FIXED"/> whatever was mapped in the
    /// range is replaced atomically; with <see cref="MAP_FIXED_NOREPLACE"/> an occupied range fails with EEXIST.
    /// </summary>
    [LibraryImport(LibraryName, EntryPoint = "mmap", SetLastError = true)]
    internal static partial nint MMap(nint address, nuint length, int protection, int flags, int fd, nint offset);
}
