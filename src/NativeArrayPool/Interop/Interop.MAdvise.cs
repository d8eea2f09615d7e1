using System.Runtime.InteropServices;

namespace NativeBuffers.Interop;

internal static partial class Libc
{
    /// <summary>Frees the pages; the next read of a private anonymous page returns zeros. Does not split VMAs.</summary>
    internal const int MADV_DONTNEED = 4;
    /// <summary>Marks the range for transparent huge pages. Changes VMA flags, so advising part of a mapping splits it.</summary>
    internal const int MADV_HUGEPAGE = 14;

    /// <summary>madvise(2). Returns 0 on success, -1 with errno on failure.</summary>
    [LibraryImport(LibraryName, EntryPoint = "madvise", SetLastError = true)]
    internal static partial int MAdvise(nint address, nuint length, int advice);
}
