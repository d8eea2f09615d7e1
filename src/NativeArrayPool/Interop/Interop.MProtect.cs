using System.Runtime.InteropServices;

namespace NativeBuffers.Interop;

internal static partial class Libc
{
    /// <summary>mprotect(2). Returns 0 on success, -1 with errno. Protecting part of a mapping splits it into up to three VMAs.</summary>
    [LibraryImport(LibraryName, EntryPoint = "mprotect", SetLastError = true)]
    internal static partial int MProtect(nint address, nuint length, int protection);
}
