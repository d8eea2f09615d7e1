using NativeBuffers.Os;
using NativeBuffers.Tests.Support;
using Xunit.Abstractions;

namespace NativeBuffers.Tests.Pooling;

/// <summary>
/// The pool's model of its kernel mappings (<see cref="NativePoolStatistics.KernelMappings"/>) against the kernel,
/// at every sample of random soaks of mixed sizes and growth paths. The kernel's count is attributed to the pool
/// by address: every line of /proc/self/maps that overlaps one of the pool's ranges (reservations, detached
/// mappings, ranges still to unmap). A budget and a reserve built on the model must never undercount, so the
/// model is never below that count. How far above it is is printed, not asserted: the kernel merges neighbouring
/// reservations, and re-mapped ranges that were never touched, which the model cannot see, and these soaks found
/// the model up to 4× above the kernel (8 against 2 after a trim; 6 against 2 with three adjacent reservations).
/// </summary>
[Collection(nameof(SerialKernelCollection))]
[Trait(Layer.Trait, Layer.Linux)]
public class MappingModelHonestyTests(ITestOutputHelper output)
{
    private const long MiB = 1024 * 1024;

    [Theory]
    [InlineData(1, GrowthPaths.All)]
    [InlineData(2, GrowthPaths.All)]
    [InlineData(3, GrowthPaths.InPlace | GrowthPaths.RemapFixed | GrowthPaths.Copy)]
    [InlineData(4, GrowthPaths.InPlace | GrowthPaths.Remap | GrowthPaths.Copy)]
    [InlineData(5, GrowthPaths.RemapFixed | GrowthPaths.Remap | GrowthPaths.Copy)]
    public void The_model_is_never_below_the_kernels_count(int seed, GrowthPaths paths)
    {
        if (!LinuxVirtualMemory.IsAvailable())
            return;
        using var pool = NativeArrayPool<byte>.Create(new NativePoolOptions
        {
            Backend = MemoryBackend.Linux,
            GrowthPaths = paths,
            MinimumReservationBytes = 2 * MiB,
            RemapThresholdBytes = 64 * 1024,
            MappingBudget = 1_000_000, // the model is under test, not the budget: let every move happen
            ThreadCaches = false,
            IdleTrimDelay = Timeout.InfiniteTimeSpan,
            TrimOnMemoryPressure = false,
        });
        var random = new Random(seed);
        var live = new List<NativeBuffer<byte>>();
        int samples = 0, worstRatioModel = 0, worstRatioKernel = 1;
        for (int op = 0; op < 3000; op++)
        {
            int choice = random.Next(10);
            if (live.Count < 300 && (choice < 4 || live.Count == 0))
            {
                NativeBuffer<byte> b = pool.Rent(Math.Max(1, (long)Math.Pow(2, random.NextDouble() * 26)));
                Touch(b);
                live.Add(b);
            }
            else if (choice < 8)
            {
                int at = random.Next(live.Count);
                NativeBuffer<byte> b = live[at];
                pool.Resize(ref b, random.Next(2) == 0 ? Math.Max(1, b.Length / 2) : Math.Min(128 * MiB, b.Length * 2));
                Touch(b);
                live[at] = b;
            }
            else
            {
                int at = random.Next(live.Count);
                pool.Return(live[at]);
                live[at] = live[^1];
                live.RemoveAt(live.Count - 1);
            }
            if (op % 25 == 0 || op > 2900)
            {
                (int model, int kernel, string detail) = Compare(pool);
                samples++;
                Assert.True(model >= kernel, $"seed {seed}, operation {op}: the model counts {model} mappings, the kernel {kernel}\n{detail}");
                if (model * worstRatioKernel > worstRatioModel * Math.Max(kernel, 1))
                    (worstRatioModel, worstRatioKernel) = (model, Math.Max(kernel, 1));
            }
        }
        foreach (NativeBuffer<byte> b in live)
            pool.Return(b);
        pool.Trim();
        (int endModel, int endKernel, string endDetail) = Compare(pool);
        Assert.True(endModel >= endKernel, $"after Trim: model {endModel}, kernel {endKernel}\n{endDetail}");
        NativePoolStatistics stats = pool.GetStatistics();
        output.WriteLine($"seed {seed} {paths}: {samples} samples, worst model/kernel {worstRatioModel}/{worstRatioKernel}; " +
                         $"after Trim {endModel}/{endKernel}; in place {stats.GrowsInPlace}, remapped fixed {stats.GrowsRemappedFixed}, remapped {stats.GrowsRemapped}, copied {stats.GrowsCopied}");
        Assert.True(stats.GrowsRemappedFixed + stats.GrowsRemapped > 0, "no page moved: the soak did not exercise the model");
    }

    // First and last page: the pages then exist, so the kernel gives the mapping an anon_vma, as real use does.
    private static void Touch(NativeBuffer<byte> b)
    {
        b[0] = 1;
        b[b.Length - 1] = 1;
    }

    /// <summary>The model's count, the kernel's count attributed by address, and both listed for a failure message.</summary>
    private static (int Model, int Kernel, string Detail) Compare(NativeArrayPool<byte> pool)
    {
        var arena = pool.Core.Arena;
        List<(nint Start, nint End)> ranges = arena.MappedRanges();
        int model = arena.KernelMappings;
        List<(nint Start, nint End)> mappings = ProcSelf.ReadMappings()!;
        var ours = mappings.Where(m => ranges.Any(r => m.Start < r.End && r.Start < m.End)).ToList();
        string detail = "";
        if (ours.Count > model)
        {
            detail = "pool ranges: " + string.Join(", ", ranges.Select(r => $"{r.Start:x}-{r.End:x}")) + "\nkernel: " +
                     string.Join(", ", ours.Select(m => $"{m.Start:x}-{m.End:x}")) + "\nreservations: " +
                     string.Join("; ", arena.ReservationsSnapshot().Select(r => $"{r.Base:x}+{r.Size:x} vmas {r.VmaCount} [" +
                         string.Join(" ", r.Segments.Select(s => $"{s.Kind}@{s.Offset:x}+{s.Length:x}")) + "]"));
        }
        return (model, ours.Count, detail);
    }
}
