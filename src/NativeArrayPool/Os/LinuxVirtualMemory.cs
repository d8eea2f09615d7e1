using System.Diagnostics;
using System.Runtime.InteropServices;
using NativeBuffers.Interop;

namespace NativeBuffers.Os;

/// <summary>
/// The Linux primitives: anonymous private mappings, mremap for zero-copy moves, madvise for huge pages and
/// for giving pages back. Reservations are mapped read-write with MAP_NORESERVE rather than PROT_NONE plus
/// mprotect, because committing parts of a PROT_NONE range would split it into many VMAs.
/// </summary>
internal sealed unsafe class LinuxVirtualMemory : VirtualMemory
{
    public static readonly LinuxVirtualMemory Instance = new();

    private const int ReadWrite = Libc.PROT_READ | Libc.PROT_WRITE;
    private const int AnonymousPrivate = Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_NORESERVE;

    private static readonly Lazy<bool> s_available = new(ProbeMremap);
    // Read once: the limit rarely changes, and reading a file at the limit itself may be what fails.
    private static readonly Lazy<long> s_maxMapCount = new(ProcessMemory.ReadMaxMapCount);
    private static readonly Lazy<long> s_addressSpaceLimit = new(ProcessMemory.ReadAddressSpaceLimit);

    private LinuxVirtualMemory() => PageSize = (nuint)Environment.SystemPageSize;

    public override string Name => "linux";
    public override nuint PageSize { get; }
    public override bool CanMovePages => true;
    public override bool DiscardedPagesReadZero => true;

    /// <summary>True when libc loads and mremap works (it does on every Linux the runtime supports; the probe guards containers with seccomp filters).</summary>
    public static bool IsAvailable() => s_available.Value;

    public override long MaxMapCount => s_maxMapCount.Value;

    public override int CountProcessMappings() => ProcessMemory.CountMappings();

    public override long AddressSpaceLimit => s_addressSpaceLimit.Value;

    // One mincore(2) per 16 MiB of pages: it fails with ENOMEM at the first page that is not mapped.
    public override bool? IsWhollyMapped(nint address, nuint length)
    {
        const int PagesPerCall = 4096;
        byte* vector = stackalloc byte[PagesPerCall];
        nint end = address + (nint)length;
        try
        {
            for (nint at = address; at < end;)
            {
                nuint chunk = Math.Min((nuint)(end - at), PagesPerCall * PageSize);
                if (Libc.MInCore(at, chunk, vector) != 0)
                    return Marshal.GetLastPInvokeError() == Libc.ENOMEM ? false : null;
                at += (nint)chunk;
            }
            return true;
        }
        catch (EntryPointNotFoundException)
        {
            return null; // a libc without mincore: unknown, so the arena fills the destination as a hole
        }
    }

    public override OsError Reserve(nuint length, nuint alignment, bool hugePages, out nint address)
    {
        address = 0;
        // Over-map by the alignment and a page, and trim both ends, each by at least a page. The result is one VMA
        // with an unmapped page on either side when it is made. That is what keeps reservations apart: the kernel
        // places mappings top-down, so one made after another tends to touch it, and touching reservations of the
        // same flags become one VMA (seen: three 64 MiB huge-page reservations as one line of /proc/self/maps).
        // Whether a new mapping merges depends on neighbours the pool cannot see (its own, and anyone else's), so
        // the mapping model could not count such merges without risking an undercount; apart, every reservation is
        // exactly its own VMAs, and a later mapping can only merge into one by filling a gap, which lowers the count.
        nuint slack = alignment + PageSize;
        nint raw = Libc.MMap(0, length + slack, ReadWrite, AnonymousPrivate, -1, 0);
        if (raw == Libc.MAP_FAILED)
            return LastError();

        nint aligned = (nint)(((nuint)raw + PageSize + alignment - 1) & ~(alignment - 1));
        nuint head = (nuint)(aligned - raw);
        nuint tail = slack - head;
        Debug.Assert(head >= PageSize && tail >= PageSize);
        Libc.MUnmap(raw, head);
        Libc.MUnmap(aligned + (nint)length, tail);

        if (hugePages)
            AdviseHugePages(aligned, length);
        address = aligned;
        return OsError.Success;
    }

    public override OsError Release(nint address, nuint length) =>
        Libc.MUnmap(address, length) == 0 ? OsError.Success : LastError();

    public override OsError ReplaceWithFreshPages(nint address, nuint length, bool hugePages)
    {
        nint result = Libc.MMap(address, length, ReadWrite, AnonymousPrivate | Libc.MAP_FIXED, -1, 0);
        if (result == Libc.MAP_FAILED)
            return LastError();
        // A fresh mapping lacks VM_HUGEPAGE; without the advice it would not merge with huge-page neighbours.
        if (hugePages)
            AdviseHugePages(address, length);
        return OsError.Success;
    }

    public override OsError FillHole(nint address, nuint length, bool hugePages)
    {
        nint result = Libc.MMap(address, length, ReadWrite, AnonymousPrivate | Libc.MAP_FIXED_NOREPLACE, -1, 0);
        if (result == Libc.MAP_FAILED)
            return LastError();
        if (result != address)
        {
            // A kernel older than 4.17 took the flag as a hint and mapped elsewhere: the range is occupied.
            Libc.MUnmap(result, length);
            return OsError.Exists;
        }
        if (hugePages)
            AdviseHugePages(address, length);
        return OsError.Success;
    }

    public override OsError MoveInto(nint source, nuint sourceLength, nint destination, nuint destinationLength, bool hugePages)
    {
        nint result = Libc.MRemap(source, sourceLength, destinationLength, Libc.MREMAP_MAYMOVE | Libc.MREMAP_FIXED, destination);
        if (result == Libc.MAP_FAILED)
            return LastError();
        // The moved VMA is exactly this range, so the advice changes its flags without splitting anything.
        if (hugePages)
            AdviseHugePages(destination, destinationLength);
        return OsError.Success;
    }

    public override OsError Move(nint source, nuint sourceLength, nuint newLength, out nint newAddress)
    {
        newAddress = Libc.MRemap(source, sourceLength, newLength, Libc.MREMAP_MAYMOVE, 0);
        if (newAddress != Libc.MAP_FAILED)
            return OsError.Success;
        newAddress = 0;
        return LastError();
    }

    public override OsError Discard(nint address, nuint length) =>
        Libc.MAdvise(address, length, Libc.MADV_DONTNEED) == 0 ? OsError.Success : LastError();

    public override OsError Protect(nint address, nuint length, bool accessible) =>
        Libc.MProtect(address, length, accessible ? ReadWrite : Libc.PROT_NONE) == 0 ? OsError.Success : LastError();

    public override void Copy(nint source, nint destination, nuint length) =>
        Buffer.MemoryCopy((void*)source, (void*)destination, length, length);

    public override void Clear(nint address, nuint length) => NativeMemory.Clear((void*)address, length);

    // Its own value: the byte may be a buffer's contents, or a free block's zero.
    public override void Stamp(nint address) => Volatile.Write(ref *(byte*)address, Volatile.Read(ref *(byte*)address));

    // Best effort: a kernel built without THP answers EINVAL, and the memory works the same without it.
    private static void AdviseHugePages(nint address, nuint length) => Libc.MAdvise(address, length, Libc.MADV_HUGEPAGE);

    private static OsError LastError()
    {
        int errno = Marshal.GetLastPInvokeError();
        return new OsError(errno == 0 ? Libc.ENOMEM : errno);
    }

    private static bool ProbeMremap()
    {
        try
        {
            nuint page = (nuint)Environment.SystemPageSize;
            nint first = Libc.MMap(0, page, ReadWrite, AnonymousPrivate, -1, 0);
            if (first == Libc.MAP_FAILED)
                return false;
            nint moved = Libc.MRemap(first, page, 2 * page, Libc.MREMAP_MAYMOVE, 0);
            if (moved == Libc.MAP_FAILED)
            {
                Libc.MUnmap(first, page);
                return false;
            }
            Libc.MUnmap(moved, 2 * page);
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }
}
