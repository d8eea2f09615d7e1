using NativeBuffers.Os;
using NativeBuffers.Tests.Support;

namespace NativeBuffers.Tests.Os;

/// <summary>The Linux primitives against the kernel, read back from /proc/self/maps. Runs alone (see <see cref="SerialKernelCollection"/>).</summary>
[Collection(nameof(SerialKernelCollection))]
[Trait(Layer.Trait, Layer.Linux)]
public class LinuxVirtualMemoryTests
{
    private const long MiB = 1024 * 1024;

    /// <summary>
    /// The kernel places mappings top-down, so reservations made one after another tend to touch, and it merges
    /// touching reservations of the same flags into one kernel mapping (seen: three 64 MiB huge-page reservations
    /// as one line of /proc/self/maps). The mapping model counts one per reservation, so a reservation must be
    /// made with an unmapped page on each side: then no two reservations are ever one mapping.
    /// </summary>
    [LinuxTheory]
    [InlineData(2 * MiB, 2 * MiB, false)]
    [InlineData(64 * MiB, 64 * MiB, true)]
    [InlineData(64 * 1024, 4096, false)]
    public unsafe void Reservations_made_one_after_another_never_touch(long size, long alignment, bool hugePages)
    {
        VirtualMemory os = LinuxVirtualMemory.Instance;
        long page = (long)os.PageSize;
        var reserved = new List<nint>();
        try
        {
            for (int i = 0; i < 4; i++)
            {
                Assert.True(os.Reserve((nuint)size, (nuint)alignment, hugePages, out nint address).IsSuccess);
                reserved.Add(address);
                Assert.Equal(0, (long)address % alignment);
                *(byte*)address = 1; // a touched mapping, as the pool's are once used
            }
            List<(nint Start, nint End)> mappings = ProcSelf.ReadMappings()!;
            foreach (nint address in reserved)
            {
                nint end = address + (nint)size;
                var covering = mappings.Where(m => m.Start < end && address < m.End).ToList();
                Assert.True(covering.Count == 1 && covering[0] == (address, end),
                    $"reservation {address:x}-{end:x} is not one mapping of its own: {string.Join(", ", covering.Select(m => $"{m.Start:x}-{m.End:x}"))}");
                Assert.True(KernelView.IsUnmapped(address - (nint)page, address), $"the page below {address:x} is mapped");
                Assert.True(KernelView.IsUnmapped(end, end + (nint)page), $"the page above {end:x} is mapped");
            }
        }
        finally
        {
            foreach (nint address in reserved)
                os.Release(address, (nuint)size);
        }
    }
}
