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
    [Fact]
    public void Pieces_of_a_reservation_split_before_it_was_written_do_not_merge_again()
    {
        if (!LinuxVirtualMemory.IsAvailable())
            return;
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
}
