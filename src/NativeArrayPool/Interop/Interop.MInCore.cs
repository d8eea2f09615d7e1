using System.Runtime.InteropServices;

namespace NativeBuffers.Interop;

internal static partial class Libc
{
    /// <summary>
    /// mincore(2): one byte per page of [address, address+length) into <paramref name="vector"/>. Fails with
    /// ENOMEM when any page of the range is not mapped, which is what we use it for: asking "is this range
    /// mapped?" with one system call, no file and no memory (so it works at the map-count limit).
    /// </summary>
    [LibraryImport(LibraryName, EntryPoint = "mincore", SetLastError = true)]
    internal static unsafe partial int MInCore(nint address, nuint length, byte* vector);
}
