using NativeBuffers.Arenas;
using NativeBuffers.Os;
using NativeBuffers.Tests.Support;

namespace NativeBuffers.Tests.Arenas;

/// <summary>
/// Where the arena moves a growing buffer, checked by address. mremap moves page tables a whole PMD (2 MiB) or PUD
/// (1 GiB) at a time only where the source and the destination agree modulo that size; anywhere else it moves every
/// 4 KiB entry on its own and splits the huge pages on the way (perf/kernel-probe/chain.c: a 1 GiB written buffer
/// took 0.05 ms aligned, 0.3-0.45 ms PMD by PMD, 6-13 ms page by page). So every move the arena chooses must be
/// co-aligned at the largest level its length allows, and land on a destination aligned to it. Addresses, not time.
/// </summary>
[Collection(nameof(SerialKernelCollection))]
[Trait(Layer.Trait, Layer.Linux)]
public class GrowthAlignmentTests
{
    private const long MiB = 1L << 20;
    private const long GiB = 1L << 30;

    private static Arena HugePageArena(VirtualMemory os) => new(new ArenaSettings(
        os, ReservationsPerSize: 2, MinimumReservationBytes: 2 * MiB, RemapThresholdBytes: MiB,
        MappingBudget: 1_000_000, MappingReserve: 0, HugePages: true, GrowthPaths.InPlace | GrowthPaths.RemapFixed | GrowthPaths.Copy));

    /// <summary>The largest page-table level a move of <paramref name="bytes"/> can use: a PUD, a PMD, or none.</summary>
    private static long TableLevel(long bytes) => bytes >= GiB ? GiB : bytes >= 2 * MiB ? 2 * MiB : 0;

    /// <summary>
    /// Doubles a buffer 2 MiB → 2 GiB, twice (the second time into reservations the first one left). With
    /// <paramref name="neighbours"/>, a block of the new size is taken after every step, so growth never happens in
    /// place and destinations are free blocks inside reservations, not only whole empty ones.
    /// Nothing is written: the moves need address space only.
    /// </summary>
    [LinuxTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void Every_move_of_a_growing_buffer_is_aligned_for_page_table_moves(bool neighbours)
    {
        var os = new InterceptingVirtualMemory(LinuxVirtualMemory.Instance);
        var moves = new List<(nint Source, long SourceBytes, nint Destination, long DestinationBytes)>();
        os.BeforeMoveInto = (source, sourceLength, destination, destinationLength) => moves.Add((source, (long)sourceLength, destination, (long)destinationLength));
        using (Arena arena = HugePageArena(os))
        {
            var taken = new List<Allocation>();
            for (int round = 0; round < 2; round++)
            {
                Allocation buffer = arena.Allocate(SizeClasses.ClassOf(2 * MiB));
                for (long bytes = 4 * MiB; bytes <= 2 * GiB; bytes *= 2)
                {
                    buffer = arena.Resize(buffer, SizeClasses.ClassOf(bytes), clearVacated: false);
                    if (neighbours)
                        taken.Add(arena.Allocate(SizeClasses.ClassOf(bytes)));
                }
                arena.Free(buffer);
            }
            foreach (Allocation block in taken)
                arena.Free(block);
        }
        Assert.Equal(0, os.MappedBytes);

        Assert.NotEmpty(moves);
        Assert.Contains(moves, m => m.SourceBytes >= GiB); // the PUD case was exercised
        foreach ((nint source, long sourceBytes, nint destination, long destinationBytes) in moves)
        {
            long level = TableLevel(sourceBytes);
            string move = $"{sourceBytes / MiB} MiB at {source:x} -> {destinationBytes / MiB} MiB at {destination:x}";
            Assert.True(level == 0 || (destination - source) % level == 0, $"source and destination disagree modulo {level / MiB} MiB: {move}");
            Assert.True(level == 0 || destination % level == 0, $"destination not aligned to {level / MiB} MiB: {move}");
        }
    }
}
