using NativeBuffers.Arenas;
using NativeBuffers.Os;
using NativeBuffers.Tests.Support;

namespace NativeBuffers.Tests.Arenas;

/// <summary>
/// Worked examples of what the kernel merges and what it keeps apart, each checked against the mapping model
/// (<see cref="Reservation.VmaCount"/>) by reading /proc/self/maps. Runs alone (see <see cref="SerialKernelCollection"/>).
/// </summary>
[Collection(nameof(SerialKernelCollection))]
[Trait(Layer.Trait, Layer.Linux)]
public unsafe class KernelMergeTests
{
    private const long KiB = 1024;

    private static Arena LinuxArena(long reservationBytes) => new(new ArenaSettings(
        LinuxVirtualMemory.Instance, ReservationsPerSize: 8, MinimumReservationBytes: reservationBytes, RemapThresholdBytes: 64 * KiB,
        MappingBudget: 1_000_000, MappingReserve: 0, HugePages: false, GrowthPaths.RemapFixed | GrowthPaths.Copy));

    private static void Touch(Allocation a) => *(byte*)a.Address = 1;

    private static int KernelMappingsIn(Reservation r) => ProcSelf.ReadMappings()!.Count(m => m.Start < r.End && r.Base < m.End);

    /// <summary>
    /// A reservation split by moves before anything in it was written: each piece gets its own anon_vma when it is
    /// first written, and pieces with different anon_vmas never merge. So when the island between two such pieces
    /// goes, the range mapped in its place merges with one side only, although both sides came from one mapping.
    /// </summary>
    [LinuxFact]
    public void Pieces_of_a_reservation_split_before_it_was_written_do_not_merge_again()
    {
        using Arena arena = LinuxArena(1024 * KiB);
        int c64 = SizeClasses.ClassOf(64 * KiB), c128 = SizeClasses.ClassOf(128 * KiB);
        // The first reservation, full of written 64 KiB blocks.
        var first = new List<Allocation>();
        for (int i = 0; i < 16; i++)
        {
            Allocation a = arena.Allocate(c64);
            Touch(a);
            first.Add(a);
        }
        Reservation one = first[0].Reservation!;
        Assert.All(first, a => Assert.Same(one, a.Reservation));

        // Growing one of them cannot happen in the first reservation: a second one is made, and the pages land at its start.
        Allocation x = arena.Resize(first[0], c128, clearVacated: false);
        Reservation two = x.Reservation!;
        Assert.NotSame(one, two);
        Assert.True(x.IsIsland);
        Allocation c = arena.Allocate(c128);                  // a block after it, not written yet
        Allocation y = arena.Resize(first[1], c128, clearVacated: false);
        Assert.Same(two, y.Reservation);
        Assert.True(y.IsIsland && y.Offset > c.Offset + c.Capacity - 1, $"island at {y.Offset:x}, block at {c.Offset:x}");
        Assert.Same(one, arena.Allocate(c128).Reservation);    // fills what the two moves vacated in the first
        Allocation d = arena.Allocate(c128);
        Assert.Same(two, d.Reservation);
        Assert.True(d.Offset > y.Offset, $"block at {d.Offset:x}, island at {y.Offset:x}");
        Touch(c);                                               // the two pieces are written only now: two anon_vmas
        Touch(d);

        arena.Free(y);                                          // the island goes; fresh pages take its place
        int kernel = KernelMappingsIn(two);
        Assert.True(two.VmaCount >= kernel, $"the model counts {two.VmaCount} mappings in the reservation, the kernel {kernel}: {two.Mappings.DescribeRuns()}");
    }

    /// <summary>
    /// A reservation emptied after moves is pieces the model counts apart, though the kernel may have merged them.
    /// Trimming maps such a reservation afresh as one mapping, so model and kernel agree on one; a reservation that
    /// still holds data is left as it is, contents and mappings alike.
    /// </summary>
    [LinuxFact]
    public void Trimming_maps_an_emptied_reservation_afresh_as_one_mapping_and_leaves_one_holding_data_alone()
    {
        using Arena arena = LinuxArena(1024 * KiB);
        int c64 = SizeClasses.ClassOf(64 * KiB), c128 = SizeClasses.ClassOf(128 * KiB);
        var first = new List<Allocation>();
        for (int i = 0; i < 16; i++)
        {
            Allocation a = arena.Allocate(c64);
            *(byte*)a.Address = (byte)(i + 1);
            first.Add(a);
        }
        Reservation one = first[0].Reservation!;
        // Two moves into a second reservation, a block between them, and the second island freed again: pieces.
        Allocation x = arena.Resize(first[0], c128, clearVacated: false);
        Reservation two = x.Reservation!;
        Allocation c = arena.Allocate(c128);
        Touch(c);
        Allocation y = arena.Resize(first[1], c128, clearVacated: false);
        Assert.Same(two, c.Reservation);
        Assert.Same(two, y.Reservation);
        arena.Free(y);
        Assert.True(two.VmaCount > 1, $"no pieces to knit: {two.Mappings.DescribeRuns()}");

        // Holding data, the reservation keeps its mappings and its bytes.
        int modelWhileHeld = two.VmaCount;
        *(byte*)(c.Address + 4096) = 0x5A;
        arena.DiscardFree();
        Assert.Equal(modelWhileHeld, two.VmaCount);
        Assert.Equal(0x5A, *(byte*)(c.Address + 4096));
        Assert.Equal(1, *(byte*)x.Address);

        arena.Free(x);
        arena.Free(c);
        Assert.True(two.IsEmpty);
        Assert.True(two.VmaCount > 1, $"freeing knitted the pieces already: {two.Mappings.DescribeRuns()}");
        int oneBefore = one.VmaCount;
        arena.DiscardFree();
        Assert.Equal(1, two.VmaCount);
        Assert.Equal(1, KernelMappingsIn(two));
        Assert.Equal(oneBefore, one.VmaCount);                 // the first still holds buffers: not remapped
        for (int i = 2; i < 16; i++)
            Assert.Equal(i + 1, *(byte*)first[i].Address);
        Assert.Null(arena.Validate());

        // The knitted reservation serves and grows as before.
        Allocation again = arena.Allocate(c128);
        Touch(again);
        foreach (Allocation a in first.Skip(2).Append(again))
            arena.Free(a);
        Assert.Null(arena.Validate());
    }
}
