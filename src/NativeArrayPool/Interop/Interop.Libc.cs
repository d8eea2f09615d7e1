// Interop: the only place in the library that declares native imports. One libc function per file;
// the constants and quirks a caller needs sit next to the declaration they belong to.
namespace NativeBuffers.Interop;

/// <summary>libc entry points used by the Linux virtual-memory layer.</summary>
internal static partial class Libc
{
    /// <summary>The C library; on Linux the loader resolves it to glibc or musl.</summary>
    internal const string LibraryName = "libc";

    // Protection and mapping flags, x86-64 and arm64 Linux values (they agree on both).
    internal const int PROT_NONE = 0x0;
    internal const int PROT_READ = 0x1;
    internal const int PROT_WRITE = 0x2;

    internal const int MAP_PRIVATE = 0x02;
    internal const int MAP_FIXED = 0x10;
    internal const int MAP_ANONYMOUS = 0x20;
    internal const int MAP_NORESERVE = 0x4000;
    /// <summary>Since Linux 4.17. Older kernels ignore it and treat the address as a hint, so callers must check the result.</summary>
    internal const int MAP_FIXED_NOREPLACE = 0x100000;

    // errno values the layers above reason about.
    internal const int EPERM = 1;
    internal const int ENOMEM = 12;
    internal const int EFAULT = 14;
    internal const int EEXIST = 17;
    internal const int EINVAL = 22;
    internal const int ENOSYS = 38;

    /// <summary>mmap's failure value: (void*)-1, not null.</summary>
    internal static readonly nint MAP_FAILED = -1;
}
