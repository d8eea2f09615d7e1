using NativeBuffers.Os;
using NativeBuffers.Tests.Support;

namespace NativeBuffers.Tests.Pooling;

/// <summary>Behaviour against the real Linux kernel, read back from /proc/self/maps. Runs alone (see <see cref="SerialKernelCollection"/>).</summary>
[Collection(nameof(SerialKernelCollection))]
[Trait(Layer.Trait, Layer.Linux)]
public class NativeArrayPoolKernelTests
{
    [LinuxFact]
    public void A_1_GiB_buffer_resized_to_2_GiB_copies_nothing_and_keeps_its_contents()
    {
        using var pool = NativeArrayPool<byte>.Create(new NativePoolOptions { Backend = MemoryBackend.Linux });
        NativeBuffer<byte> buffer = pool.Rent(1L << 30);
        Pattern.Fill(buffer, id: 77, 0, 1L << 30);

        pool.Resize(ref buffer, 2L << 30);

        NativePoolStatistics stats = pool.GetStatistics();
        Assert.True(buffer.Length >= 2L << 30);
        Assert.Equal(0, stats.BytesCopied);
        Assert.Equal(0, stats.GrowsCopied);
        Assert.Equal(1, stats.GrowsInPlace + stats.GrowsRemappedFixed + stats.GrowsRemapped);
        Assert.Equal(-1, Pattern.FirstMismatch(buffer, id: 77, 1L << 30));
        // The new half is usable too.
        buffer.AsSpan((2L << 30) - 4096, 4096).Fill(1);
        pool.Return(buffer);
    }

    [LinuxFact]
    public void After_Dispose_no_kernel_mapping_is_left_where_the_pool_mapped()
    {
        var probe = new MappingLedger();
        var pool = NativeArrayPool<byte>.Create(new NativePoolOptions { Backend = MemoryBackend.Linux, MinimumReservationBytes = 2L << 20, RemapThresholdBytes = 64 * 1024 });
        var random = new Random(5);
        var live = new List<NativeBuffer<byte>>();
        for (int i = 0; i < 400; i++)
        {
            if (live.Count > 0 && random.Next(3) == 0)
            {
                int at = random.Next(live.Count);
                NativeBuffer<byte> b = live[at];
                pool.Resize(ref b, Math.Max(1, (long)(b.Length * (random.NextDouble() * 4))));
                b[0] = 1; // touch, so moved pages are real pages
                live[at] = b;
            }
            else if (live.Count > 0 && random.Next(3) == 0)
            {
                int at = random.Next(live.Count);
                pool.Return(live[at]);
                live.RemoveAt(at);
            }
            else
            {
                NativeBuffer<byte> b = pool.Rent(random.Next(1, 8 << 20));
                b[0] = 1;
                live.Add(b);
            }
            probe.Record(pool);
        }
        Assert.True(probe.Remaining() > 0, "the probe saw none of the pool's mappings: it cannot see a leak either");
        foreach (NativeBuffer<byte> b in live)
            pool.Return(b);
        pool.Dispose();
        Assert.Equal(0, probe.Remaining());
    }

    [LinuxFact]
    public void The_mapping_model_never_undercounts_the_kernel()
    {
        using var pool = NativeArrayPool<byte>.Create(new NativePoolOptions { Backend = MemoryBackend.Linux, MinimumReservationBytes = 2L << 20, RemapThresholdBytes = 64 * 1024 });
        var random = new Random(11);
        var live = new List<NativeBuffer<byte>>();
        for (int i = 0; i < 300; i++)
        {
            NativeBuffer<byte> b = pool.Rent(random.Next(64 * 1024, 2 << 20));
            b[0] = 1;
            if (random.Next(2) == 0)
            {
                pool.Resize(ref b, b.Length * 2 + 1);
                b[b.Length - 1] = 1;
            }
            live.Add(b);
            if (live.Count > 20)
            {
                pool.Return(live[0]);
                live.RemoveAt(0);
            }
            int model = pool.GetStatistics().KernelMappings;
            int kernel = KernelView.MappingsOf(pool);
            // Adjacent reservations and islands from adjacent sources can merge, so the kernel may count fewer.
            Assert.True(kernel <= model, $"step {i}: the kernel has {kernel} mappings in the pool's ranges, the model only {model}");
        }
        Assert.True(pool.GetStatistics().GrowsRemappedFixed > 0);
        foreach (NativeBuffer<byte> b in live)
            pool.Return(b);
    }
}
