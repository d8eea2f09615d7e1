namespace NativeBuffers.Arenas;

// Making memory read zero: the whole of a buffer (ZeroOnRent, clearing returns) and the parts of a buffer its tenant
// has not written (the gap a sparse write skips, the part SetLength adds), which must not be committed for it.
internal partial class Arena
{
    /// <summary>
    /// From this size on, zeroing discards the pages (fresh pages read zero) instead of writing zeros.
    /// </summary>
    /// <remarks>
    /// Measured (BenchmarkDotNet, 2-vCPU VM, kernel 6.18): when the tenant then writes the whole buffer, memset +
    /// write beat madvise(DONTNEED) + write (which faults every page back in) at every size tried — 3.7× at 4 MiB
    /// with huge pages, 100–500× with 4 KiB pages. Discarding pays off only when the tenant does not touch all of
    /// the buffer, or the pages were not resident anyway (a memset would fault them in just to zero them). So it
    /// is kept for the largest classes, which are not cached per thread and where leaving memory uncommitted
    /// matters most.
    /// </remarks>
    public const long ZeroByDiscardBytes = 16L << 20;

    /// <summary>
    /// Makes [address, address+length) read zero, for memory the caller holds exclusively: large page-aligned
    /// ranges by discarding their pages where fresh pages read zero (no writes now, zero pages on next touch),
    /// everything else with a memset.
    /// </summary>
    public void Zero(nint address, long length)
    {
        nint pageMask = (nint)_os.PageSize - 1;
        if (length >= ZeroByDiscardBytes && _os.DiscardedPagesReadZero && ((address | (nint)length) & pageMask) == 0
            && _os.Discard(address, (nuint)length).IsSuccess)
            return;
        _os.Clear(address, (nuint)length);
    }

    /// <summary>
    /// From this size on, a sparse clear discards the whole pages of its range instead of writing zeros.
    /// </summary>
    /// <remarks>
    /// Below it a memset is cheaper than the system call, and commits little. The range is one the tenant skipped,
    /// so unlike <see cref="ZeroByDiscardBytes"/> nothing says it will be written soon: discarding costs no refault
    /// unless it is.
    /// </remarks>
    public const long SparseDiscardBytes = 256L << 10;

    /// <summary>
    /// Makes [address, address+length) read zero without committing it, for a range of a buffer that its tenant has
    /// not written: whole pages are discarded (they read zero and take no memory until touched), and only the
    /// partial pages at the edges are written. Where discarded pages do not read zero (the portable layer), or the
    /// range is small, or the discard fails, it writes zeros. The caller holds the memory exclusively.
    /// </summary>
    public void ZeroSparse(nint address, long length)
    {
        nint pageMask = (nint)_os.PageSize - 1;
        nint firstPage = (address + pageMask) & ~pageMask;
        nint endPage = (address + (nint)length) & ~pageMask;
        if (length >= SparseDiscardBytes && _os.DiscardedPagesReadZero && endPage > firstPage
            && _os.Discard(firstPage, (nuint)(endPage - firstPage)).IsSuccess)
        {
            _os.Clear(address, (nuint)(firstPage - address));
            _os.Clear(endPage, (nuint)(address + (nint)length - endPage));
            return;
        }
        _os.Clear(address, (nuint)length);
    }
}
