using NativeBuffers.Interop;

namespace NativeBuffers.StressHost;

/// <summary>
/// Eats the process's kernel mappings: one-page anonymous mappings with alternating protections, so no two
/// neighbours can merge and each costs a VMA. The array of addresses is allocated up front, so consuming
/// and releasing need no managed allocation.
/// </summary>
internal sealed class MappingHog
{
    private const int Page = 4096;
    private readonly nint[] _pages;

    public MappingHog(long maxMapCount) => _pages = new nint[maxMapCount + 64];

    public int Count { get; private set; }

    /// <summary>Maps pages until the kernel refuses (vm.max_map_count reached). Returns how many it took.</summary>
    public int ConsumeAll()
    {
        int before = Count;
        while (Count < _pages.Length)
        {
            int protection = Count % 2 == 0 ? Libc.PROT_READ : Libc.PROT_READ | Libc.PROT_WRITE;
            nint page = Libc.MMap(0, Page, protection, Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS, -1, 0);
            if (page == Libc.MAP_FAILED)
                break;
            _pages[Count++] = page;
        }
        return Count - before;
    }

    /// <summary>Maps one more page; false when the kernel refuses.</summary>
    public bool ConsumeOne()
    {
        if (Count == _pages.Length)
            return false;
        int protection = Count % 2 == 0 ? Libc.PROT_READ : Libc.PROT_READ | Libc.PROT_WRITE;
        nint page = Libc.MMap(0, Page, protection, Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS, -1, 0);
        if (page == Libc.MAP_FAILED)
            return false;
        _pages[Count++] = page;
        return true;
    }

    /// <summary>Gives back the last <paramref name="pages"/> pages (all by default).</summary>
    public void Release(int pages = int.MaxValue)
    {
        for (int i = 0; i < pages && Count > 0; i++)
            Libc.MUnmap(_pages[--Count], Page);
    }
}
