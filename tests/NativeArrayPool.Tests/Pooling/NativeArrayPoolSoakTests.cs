using NativeBuffers.Tests.Support;
using Xunit.Abstractions;

namespace NativeBuffers.Tests.Pooling;

/// <summary>
/// Up to 2,000 live buffers from 1 byte to 64 MiB and 100,000 random operations: the pool's kernel mappings,
/// as the kernel counts them in /proc/self/maps, stay within the mapping budget, and every buffer keeps its
/// signature. Run with the default budget and with a small one that the workload must run into, so moves are
/// declined and served by copies. NATIVEARRAYPOOL_SOAK_OPERATIONS raises the operation count.
/// </summary>
public class NativeArrayPoolSoakTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(0)]  // automatic: 1 % of vm.max_map_count
    [InlineData(48)] // small enough that moves have to be declined
    public void Two_thousand_live_buffers_and_100000_operations_stay_within_the_mapping_budget(int mappingBudget)
    {
        int operations = int.TryParse(Environment.GetEnvironmentVariable("NATIVEARRAYPOOL_SOAK_OPERATIONS"), out int n) ? n : 100_000;
        if (mappingBudget != 0)
            operations /= 4; // every declined move is a copy of up to 64 MiB: a quarter of the run reaches the budget plenty
        using var pool = NativeArrayPool<byte>.Create(new NativePoolOptions { MappingBudget = mappingBudget });
        var random = new Random(2026);
        var live = new List<(NativeBuffer<byte> Buffer, byte Mark)>();
        int budget = pool.GetStatistics().MappingBudget;
        int worstKernel = 0;

        for (int op = 0; op < operations; op++)
        {
            int choice = random.Next(10);
            if (live.Count < 2000 && (choice < 4 || live.Count == 0))
            {
                var b = pool.Rent(LogUniform(random));
                byte mark = (byte)random.Next(1, 255);
                Sign(b, mark);
                live.Add((b, mark));
            }
            else if (choice < 7)
            {
                int at = random.Next(live.Count);
                (NativeBuffer<byte> b, byte mark) = live[at];
                Check(b, mark, op);
                pool.Resize(ref b, Math.Min(64L << 20, LogUniform(random)));
                mark = (byte)random.Next(1, 255);
                Sign(b, mark);
                live[at] = (b, mark);
            }
            else
            {
                int at = random.Next(live.Count);
                Check(live[at].Buffer, live[at].Mark, op);
                pool.Return(live[at].Buffer);
                live[at] = live[^1];
                live.RemoveAt(live.Count - 1);
            }

            if (op % (mappingBudget == 0 ? 5000 : 500) == 0)
            {
                int kernel = KernelView.MappingsOf(pool);
                worstKernel = Math.Max(worstKernel, kernel);
                NativePoolStatistics now = pool.GetStatistics();
                Assert.True(kernel <= now.KernelMappings, $"operation {op}: the kernel counts {kernel} mappings in the pool's ranges, the model {now.KernelMappings}");
                // The budget bounds what page moves add (islands, split reservations, detached mappings); the
                // reservations that rents and copies need are made regardless, as refusing them would fail the rent.
                Assert.True(now.KernelMappings - now.Reservations <= budget,
                    $"operation {op}: {now.KernelMappings} mappings of which {now.Reservations} reservations: moves went over the budget of {budget}");
                if (mappingBudget == 0)
                    Assert.True(kernel <= budget, $"operation {op}: the pool's ranges hold {kernel} kernel mappings, over the budget of {budget}");
                Assert.Null(pool.Core.Arena.Validate());
            }
        }
        foreach ((NativeBuffer<byte> b, byte mark) in live)
        {
            Check(b, mark, operations);
            pool.Return(b);
        }
        NativePoolStatistics stats = pool.GetStatistics();
        Assert.Equal(0, stats.InUseBytes);
        Assert.Equal(stats.Rents, stats.Returns);
        if (mappingBudget == 0)
            Assert.True(stats.PeakKernelMappings <= budget, $"peak {stats.PeakKernelMappings} over budget {budget}");
        Assert.True(worstKernel > 0);
        output.WriteLine($"budget {budget}: peak {stats.PeakKernelMappings} modelled, worst {worstKernel} sampled from /proc; " +
                         $"moves declined by the budget {stats.MovesDeclinedByBudget}; grows in place {stats.GrowsInPlace}, " +
                         $"remapped fixed {stats.GrowsRemappedFixed}, remapped {stats.GrowsRemapped}, copied {stats.GrowsCopied}");
        if (mappingBudget != 0 && Layer.MovesPages(pool))
        {
            Assert.True(stats.MovesDeclinedByBudget > 0, "the small budget never declined a move: the test did not reach it");
        }
    }

    // Sizes spread evenly over orders of magnitude, 1 B to 64 MiB, as real workloads are.
    private static long LogUniform(Random random) => Math.Max(1, (long)Math.Pow(2, random.NextDouble() * 26));

    // Marks the first, middle and last byte: enough to see a lost or swapped buffer without filling gigabytes.
    private static void Sign(NativeBuffer<byte> b, byte mark)
    {
        b[0] = mark;
        b[b.Length / 2] = (byte)(mark ^ 0x55);
        b[b.Length - 1] = (byte)(mark ^ 0xAA);
    }

    private static void Check(NativeBuffer<byte> b, byte mark, int op)
    {
        if (b[0] != mark || b[b.Length / 2] != (byte)(mark ^ 0x55) || b[b.Length - 1] != (byte)(mark ^ 0xAA))
            Assert.Fail($"operation {op}: a buffer of {b.Length} bytes lost its signature");
    }
}
