using NativeBuffers.Interop;
using NativeBuffers.Os;
using NativeBuffers.Tests.Support;

namespace NativeBuffers.Tests.Os;

[Trait(Layer.Trait, Layer.Linux)] // reads /proc/self/maps
public class ProcessMemoryMappingTests
{
    [LinuxFact]
    public void Streaming_scan_sees_mapped_and_unmapped_ranges()
    {
        const int Page = 4096;
        nint range = Libc.MMap(0, 3 * Page, Libc.PROT_READ, Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS, -1, 0);
        Assert.NotEqual(Libc.MAP_FAILED, range);
        try
        {
            Assert.True(Mapped(range, 3 * Page));
            Assert.Equal(0, Libc.MUnmap(range + Page, Page));
            Assert.True(Mapped(range, Page));
            Assert.True(Mapped(range + 2 * Page, Page));
            Assert.False(Mapped(range, 3 * Page));
            Assert.False(Mapped(range + Page, Page));
        }
        finally
        {
            Libc.MUnmap(range, 3 * Page);
        }
        Assert.False(Mapped(range, Page));
    }

    private static bool? Mapped(nint address, nuint length) => LinuxVirtualMemory.Instance.IsWhollyMapped(address, length);

    [LinuxFact]
    public void Streaming_count_agrees_with_the_line_by_line_reader()
    {
        // Other threads may map between the two reads: retry until two readings agree.
        for (int attempt = 0; attempt < 10; attempt++)
        {
            int listed = ProcSelf.ReadMappings()!.Count;
            int counted = ProcessMemory.CountMappings();
            if (listed == counted)
                return;
        }
        Assert.Fail("CountMappings never agreed with ReadMappings");
    }
}
