using NativeBuffers.Os;
using NativeBuffers.Tests.Support;

namespace NativeBuffers.Tests.Os;

[Trait(Layer.Trait, Layer.Linux)] // reads /proc/self/smaps and pagemap
public class ProcessMemoryTests
{
    [LinuxFact]
    public void Resident_bytes_count_only_the_touched_pages_inside_the_ranges()
    {
        using var pool = NativeArrayPool<byte>.Create(new NativePoolOptions { Backend = MemoryBackend.Linux, TransparentHugePages = false });
        NativeBuffer<byte> buffer = pool.Rent(32 << 20);
        nint start = buffer._allocation!.Address;
        nint middle = start + (16 << 20), end = start + (32 << 20);
        buffer.AsSpan(0, 16 << 20).Fill(1);                     // touch the first half only

        // Each half is only part of a kernel mapping, so these are counted page by page (pagemap)...
        long firstHalf = ProcessMemory.ReadResidentBytesWithin([(start, middle)]);
        long secondHalf = ProcessMemory.ReadResidentBytesWithin([(middle, end)]);
        // ...while the pool's whole reservations are read from smaps' Rss.
        long wholePool = ProcessMemory.ReadResidentBytesWithin(pool.Core.Arena.MappedRanges());

        Assert.Equal(16 << 20, firstHalf);
        Assert.True(secondHalf < 1 << 20, $"untouched half: {secondHalf} bytes resident");
        Assert.InRange(wholePool, 16 << 20, (16 << 20) + (2 << 20));
        pool.Return(buffer);
    }

    [LinuxFact]
    public void No_ranges_have_no_resident_bytes()
    {
        Assert.Equal(0, ProcessMemory.ReadResidentBytesWithin([]));
    }
}
