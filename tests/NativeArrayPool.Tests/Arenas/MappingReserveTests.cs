using NativeBuffers.Os;
using NativeBuffers.Tests.Support;

namespace NativeBuffers.Tests.Arenas;

/// <summary>
/// The mapping reserve, in process: the fault-injecting layer plays other components' mappings on top of the
/// real count, so the process can be put near vm.max_map_count without consuming it (the child-process test in
/// ExhaustionTests does that for real). Below the reserve the pool adds no mapping; it counts the process's
/// mappings only when it is about to add some and is near the reserve or has added a read interval's worth.
/// </summary>
[Trait(Layer.Trait, Layer.Linux)] // the reserve counts the kernel's mappings: Linux only
public class MappingReserveTests
{
    private const long KiB = 1024, MiB = 1024 * 1024;

    private static (NativeArrayPool<byte> Pool, FaultInjectingVirtualMemory Os) Create(int reserve)
    {
        var os = new FaultInjectingVirtualMemory(LinuxVirtualMemory.Instance, (_, _) => OsError.Success);
        var pool = NativeArrayPool<byte>.Create(new NativePoolOptions
        {
            VirtualMemoryOverride = os,
            MappingReserve = reserve,
            MinimumReservationBytes = 2 * MiB,
            RemapThresholdBytes = 64 * KiB,
            ThreadCaches = false,
            IdleTrimDelay = Timeout.InfiniteTimeSpan,
            TrimOnMemoryPressure = false,
        });
        return (pool, os);
    }

    /// <summary>
    /// A process that, apart from the pool, is <paramref name="headroom"/> mappings below vm.max_map_count: what the
    /// pool owns by its model comes on top. Deterministic, unlike the real count, which other tests' threads move.
    /// </summary>
    private static Func<int> LeaveHeadroom(NativeArrayPool<byte> pool, int headroom) =>
        () => (int)(LinuxVirtualMemory.Instance.MaxMapCount - headroom) + pool.Core.Arena.KernelMappings;

    [LinuxFact]
    public void Below_the_reserve_growth_copies_and_a_rent_needing_a_mapping_is_refused_naming_the_limit()
    {
        (NativeArrayPool<byte> pool, FaultInjectingVirtualMemory os) = Create(reserve: 100);
        using var _ = pool;
        os.ProcessMappings = LeaveHeadroom(pool, 101); // room for the first reservation, then the reserve is reached
        NativeBuffer<byte> a = pool.Rent(256 * KiB);
        NativeBuffer<byte> neighbour = pool.Rent(256 * KiB); // a cannot grow in place
        Pattern.Fill(a, id: 3, 0, a.Length);
        int own = pool.GetStatistics().KernelMappings;
        Assert.Equal(1, own);

        pool.Resize(ref a, 512 * KiB);
        NativePoolStatistics stats = pool.GetStatistics();
        Assert.True(stats.GrowsCopied == 1, $"{stats}");
        Assert.Equal(0, stats.GrowsRemappedFixed + stats.GrowsRemapped);
        Assert.True(stats.DeclinedByMappingReserve >= 1);
        Assert.Equal(-1, Pattern.FirstMismatch(a, id: 3, 256 * KiB));
        NativeBuffer<byte> fromFreeSpace = pool.Rent(64 * KiB); // the reservation still has room: served
        pool.Return(fromFreeSpace);

        var refusal = Assert.Throws<InsufficientMemoryException>(() => pool.Rent(64 * MiB));
        long max = LinuxVirtualMemory.Instance.MaxMapCount;
        Assert.Contains($"vm.max_map_count = {max}", refusal.Message);
        Assert.Contains($"the process has {max - 100} mappings", refusal.Message);
        Assert.Contains("mapping reserve of 100", refusal.Message);
        Assert.Contains($"The pool owns {own} of them", refusal.Message);
        Assert.Equal(own, pool.GetStatistics().KernelMappings);

        // Once the other mappings go, the same requests are served by new mappings again.
        os.ProcessMappings = null;
        NativeBuffer<byte> big = pool.Rent(64 * MiB);
        pool.Resize(ref a, 4 * MiB);
        Assert.Equal(-1, Pattern.FirstMismatch(a, id: 3, 256 * KiB));
        foreach (NativeBuffer<byte> buffer in new[] { a, neighbour, big })
            pool.Return(buffer);
        Assert.Null(pool.Core.Arena.Validate());
    }

    [LinuxFact]
    public void Far_from_the_limit_the_process_is_counted_once_per_read_interval_and_never_on_paths_that_add_nothing()
    {
        (NativeArrayPool<byte> pool, FaultInjectingVirtualMemory os) = Create(reserve: 64); // read interval 16
        using var _ = pool;
        var held = new List<NativeBuffer<byte>>();
        for (int i = 0; i < 200; i++)
        {
            NativeBuffer<byte> b = pool.Rent(128 * KiB);
            pool.Resize(ref b, 1 * MiB); // page moves: islands in the reservations, and new reservations
            held.Add(b);
        }
        long readsWhileAdding = os.ProcessMappingCounts;
        int peak = (int)pool.GetStatistics().PeakKernelMappings;
        Assert.True(readsWhileAdding >= 1, "the pool added mappings without ever counting the process's");
        // Each read covers up to 16 added mappings; the pool added at most its peak count plus what frees gave back.
        Assert.True(readsWhileAdding <= 1 + pool.GetStatistics().ProcessMappingReads, "the arena's read counter disagrees with the layer's");
        Assert.True(readsWhileAdding * 16 <= 2 * (peak + 200) + 16,
            $"{readsWhileAdding} reads for a pool that peaked at {peak} mappings: more than one per read interval");

        // Returning and renting from free space adds no mapping: no read.
        foreach (NativeBuffer<byte> b in held)
            pool.Return(b);
        for (int i = 0; i < 100; i++)
            pool.Return(pool.Rent(128 * KiB));
        Assert.Equal(readsWhileAdding, os.ProcessMappingCounts);
    }

    [LinuxFact]
    public void Near_the_reserve_every_addition_counts_the_process_afresh()
    {
        (NativeArrayPool<byte> pool, FaultInjectingVirtualMemory os) = Create(reserve: 64);
        using var _ = pool;
        os.ProcessMappings = LeaveHeadroom(pool, 64 + 6); // within a read interval (16) of the reserve from the start
        var held = new List<NativeBuffer<byte>>();
        try
        {
            for (int i = 0; i < 40; i++)
                held.Add(pool.Rent(8 * MiB)); // a reservation each, until the reserve refuses
        }
        catch (InsufficientMemoryException e)
        {
            Assert.Contains("vm.max_map_count", e.Message);
        }
        NativePoolStatistics stats = pool.GetStatistics();
        Assert.True(held.Count is > 0 and < 40, $"{held.Count} rents of 8 MiB served with 6 mappings above the reserve");
        Assert.True(stats.KernelMappings <= 6, $"the pool took {stats.KernelMappings} mappings of the 6 above the reserve");
        Assert.True(os.ProcessMappingCounts >= stats.Reservations, $"{os.ProcessMappingCounts} reads for {stats.Reservations} new reservations near the reserve");
        foreach (NativeBuffer<byte> b in held)
            pool.Return(b);
    }

    [LinuxFact]
    public void A_reserve_of_zero_never_counts_the_process()
    {
        (NativeArrayPool<byte> pool, FaultInjectingVirtualMemory os) = Create(reserve: 0);
        using var _ = pool;
        os.ProcessMappings = LeaveHeadroom(pool, 10);
        NativeBuffer<byte> b = pool.Rent(8 * MiB);
        pool.Resize(ref b, 64 * MiB);
        pool.Return(b);
        Assert.Equal(0, os.ProcessMappingCounts);
        Assert.Equal(0, pool.GetStatistics().DeclinedByMappingReserve);
    }

    /// <summary>
    /// The collections below the reserve: growth that needs a new mapping is refused with the reserve's exception,
    /// and the list, writer and stream keep what they held and keep working within what they have.
    /// </summary>
    [LinuxFact]
    public void Below_the_reserve_collection_growth_is_refused_and_the_collections_keep_their_contents()
    {
        (NativeArrayPool<byte> pool, FaultInjectingVirtualMemory os) = Create(reserve: 100);
        using var _ = pool;
        os.ProcessMappings = LeaveHeadroom(pool, 101); // room for the first reservation, then the reserve is reached
        using var list = new NativeList<byte>(pool);
        using var writer = new NativeBufferWriter<byte>(pool);
        using var stream = new NativeMemoryStream(pool);
        list.Add(1);
        writer.GetSpan(1)[0] = 2;
        writer.Advance(1);
        stream.WriteByte(3);
        Assert.Equal(1, pool.GetStatistics().KernelMappings);

        var refused = new List<InsufficientMemoryException>
        {
            Assert.Throws<InsufficientMemoryException>(() => list.EnsureCapacity(64 * MiB)),
            Assert.Throws<InsufficientMemoryException>(() => writer.GetSpan((int)(64 * MiB))),
            Assert.Throws<InsufficientMemoryException>(() => { stream.Seek(1L << 30, SeekOrigin.Begin); stream.WriteByte(4); }),
            Assert.Throws<InsufficientMemoryException>(() => stream.SetLength(1L << 30)),
        };
        Assert.All(refused, e => Assert.Contains("mapping reserve of 100", e.Message));
        Assert.Equal(1, list.Count);
        Assert.Equal(1, list[0]);
        Assert.Equal(2, writer.WrittenSpan[0]);
        Assert.Equal(1, stream.Length);
        stream.Position = 0;
        Assert.Equal(3, stream.ReadByte());

        // Growth within the pool's existing reservation is still served.
        list.Add(5);
        writer.Write([6]);
        stream.WriteByte(7);
        Assert.Equal(5, list[1]);
        Assert.Equal(6, writer.WrittenSpan[1]);
        Assert.Equal(2, stream.Length);
    }

    /// <summary>Where the process's count cannot be read (no /proc), only the budget applies: nothing is refused for the reserve.</summary>
    [LinuxFact]
    public void Without_a_readable_process_count_the_reserve_refuses_nothing()
    {
        (NativeArrayPool<byte> pool, FaultInjectingVirtualMemory os) = Create(reserve: 100);
        using var _ = pool;
        os.ProcessMappings = () => -1;
        var held = new List<NativeBuffer<byte>>();
        for (int i = 0; i < 8; i++)
        {
            NativeBuffer<byte> b = pool.Rent(8 * MiB);
            pool.Resize(ref b, 16 * MiB);
            held.Add(b);
        }
        NativePoolStatistics stats = pool.GetStatistics();
        Assert.Equal(0, stats.DeclinedByMappingReserve);
        Assert.True(os.ProcessMappingCounts > 0, "the count was never asked for");
        foreach (NativeBuffer<byte> b in held)
            pool.Return(b);
    }
}
