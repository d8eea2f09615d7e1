using NativeBuffers.Arenas;
using NativeBuffers.Os;
using NativeBuffers.Tests.Support;

namespace NativeBuffers.Tests.Arenas;

/// <summary>
/// A plain rent leaves whole a resident free block far larger than itself (<see cref="Space.MaxResidentSplitShift"/>)
/// while new space is to be had, and splits it when the process cannot spare the mapping or the address space: the
/// rent never fails for the sake of the big block. Bookkeeping only (nothing is mapped); the real-kernel effect on the
/// next append is in <see cref="ResidentGrowthTests"/>.
/// </summary>
public class ResidentSplitTests
{
    private const long MiB = 1L << 20;
    private const long Large = 256 * MiB; // 128 times a 2 MiB rent: more than 2^6

    private static (Arena Arena, FaultInjectingVirtualMemory Os) HugeArena(Func<Primitive, long, OsError> decide, int mappingReserve = 0, int perSize = 8, int mappingBudget = 1_000_000)
    {
        var os = new FaultInjectingVirtualMemory(new AddressOnlyVirtualMemory(), decide) { MaxMapCountOverride = 65530, ProcessMappings = () => 100 };
        var arena = new Arena(new ArenaSettings(
            os, ReservationsPerSize: perSize, MinimumReservationBytes: 2 * MiB, RemapThresholdBytes: 64 * 1024,
            MappingBudget: mappingBudget, MappingReserve: mappingReserve, HugePages: false, GrowthPaths.All));
        return (arena, os);
    }

    /// <summary>A 256 MiB block rented and returned: its reservation may now hold 256 MiB of resident free memory.</summary>
    private static Reservation LeaveLargeResidentBlock(Arena arena)
    {
        Allocation large = arena.Allocate(SizeClasses.ClassOf(Large));
        Reservation kept = large.Reservation!;
        arena.Free(large);
        Assert.True(kept.MayHoldResidentFree && kept.IsEmpty);
        return kept;
    }

    [Fact]
    public void A_small_rent_takes_new_space_and_leaves_the_large_resident_block_whole()
    {
        using Arena arena = HugeArena((_, _) => OsError.Success).Arena;
        Reservation kept = LeaveLargeResidentBlock(arena);

        Allocation small = arena.Allocate(SizeClasses.ClassOf(2 * MiB));
        Assert.NotSame(kept, small.Reservation);
        Assert.True(kept.IsEmpty, "the 2 MiB rent split the 256 MiB resident block");
        Assert.Equal(0, arena.DeclinedByMappingReserve);

        // A second small rent fits beside the first (2 MiB is not 64 times smaller than what is left there).
        Allocation second = arena.Allocate(SizeClasses.ClassOf(2 * MiB));
        Assert.Same(small.Reservation, second.Reservation);
        arena.Free(second);
        arena.Free(small);
        Assert.Null(arena.Validate());
    }

    /// <summary>
    /// The new space a spared rent takes is itself resident once that rent is returned, and its free block is as large
    /// as the schedule made it (here 256 MiB again): spared in turn, each rent and return of a small buffer mapped one
    /// more reservation, without bound. Only a block a big tenant left is worth sparing; the small one's reservation
    /// takes the next small rent.
    /// </summary>
    [Fact]
    public void Small_rents_and_returns_after_the_large_block_reuse_one_new_reservation()
    {
        using Arena arena = HugeArena((_, _) => OsError.Success).Arena;
        Reservation kept = LeaveLargeResidentBlock(arena);

        Reservation? home = null;
        for (int i = 0; i < 20; i++)
        {
            Allocation small = arena.Allocate(SizeClasses.ClassOf(2 * MiB));
            Assert.NotSame(kept, small.Reservation);
            home ??= small.Reservation;
            Assert.Same(home, small.Reservation);
            arena.Free(small);
        }
        Assert.Equal(2, arena.ReservationCount);
        Assert.True(kept.IsEmpty);
        Assert.Null(arena.Validate());
    }

    /// <summary>
    /// With one reservation per size, each new reservation is twice the last, so the one a spared rent maps has the most
    /// room, and the next big rent goes there (room first) and leaves it as worth sparing as the first. Sparing every
    /// such block, each small rent after a big one mapped a reservation twice the size of the last (12 rounds: 13
    /// reservations, 2.2 TB of address space). Only the block the next growing buffer would take is spared, so a rent maps new space
    /// only when every other reservation is full: the space stays as the rents alone would have it, plus that block.
    /// </summary>
    [Fact]
    public void Small_and_big_rents_in_turn_map_no_more_than_one_reservation_beyond_the_large_block()
    {
        using Arena arena = HugeArena((_, _) => OsError.Success, perSize: 1).Arena;
        LeaveLargeResidentBlock(arena);

        for (int i = 0; i < 12; i++)
        {
            arena.Free(arena.Allocate(SizeClasses.ClassOf(2 * MiB)));
            arena.Free(arena.Allocate(SizeClasses.ClassOf(Large)));
        }
        Assert.True(arena.ReservationCount <= 2, $"{arena.ReservationCount} reservations, {arena.ReservedBytes} bytes, for buffers of 256 MiB at most, one at a time");
        Assert.Null(arena.Validate());
    }

    [Fact]
    public void A_rent_at_most_64_times_smaller_than_the_resident_block_still_splits_it()
    {
        using Arena arena = HugeArena((_, _) => OsError.Success).Arena;
        Reservation kept = LeaveLargeResidentBlock(arena);

        Allocation rent = arena.Allocate(SizeClasses.ClassOf(Large >> Space.MaxResidentSplitShift));
        Assert.Same(kept, rent.Reservation);
        arena.Free(rent);
        Assert.Null(arena.Validate());
    }

    [Fact]
    public void When_no_address_space_can_be_mapped_a_small_rent_splits_the_resident_block_instead_of_failing()
    {
        bool failReserves = false;
        (Arena arena, FaultInjectingVirtualMemory os) = HugeArena((p, _) => failReserves && p == Primitive.Reserve ? OsError.OutOfMemory : OsError.Success);
        using var owned = arena;
        Reservation kept = LeaveLargeResidentBlock(arena);

        failReserves = true;
        Allocation small = arena.Allocate(SizeClasses.ClassOf(2 * MiB));
        Assert.Same(kept, small.Reservation);
        Assert.Equal(1, os.Failures(Primitive.Reserve)); // one attempt, and no consolidation that could unmap the block
        Assert.Single(arena.ReservationsSnapshot(), r => r.Size == Large);
        arena.Free(small);
        Assert.True(kept.IsEmpty);
        Assert.Null(arena.Validate());
    }

    [Fact]
    public void Near_the_mapping_reserve_a_small_rent_splits_the_resident_block_and_counts_no_refusal()
    {
        (Arena arena, FaultInjectingVirtualMemory os) = HugeArena((_, _) => OsError.Success, mappingReserve: 50);
        using var owned = arena;
        // The rest of the process leaves 51 mappings: one for the large block's reservation, then the reserve.
        os.ProcessMappings = () => 65530 - 51 + arena.KernelMappings;
        Reservation kept = LeaveLargeResidentBlock(arena);

        Allocation small = arena.Allocate(SizeClasses.ClassOf(2 * MiB));
        Assert.Same(kept, small.Reservation);
        Assert.Equal(0, arena.DeclinedByMappingReserve); // the rent was served: nothing was declined
        arena.Free(small);
        Assert.Null(arena.Validate());
    }

    /// <summary>
    /// The pool's budget of kernel mappings yields only for a reservation a rent needs; the one a spared rent would map is
    /// not needed (the large block has room), and mapped at the budget it would push the pool over it, after which every
    /// page move is declined and the next big append copies. At the budget the rent splits the block instead, without
    /// consolidating (the large block's reservation is empty, and consolidation would unmap it).
    /// </summary>
    [Fact]
    public void At_the_mapping_budget_a_small_rent_splits_the_resident_block_rather_than_exceed_it()
    {
        (Arena arena, FaultInjectingVirtualMemory os) = HugeArena((_, _) => OsError.Success, mappingBudget: 1);
        using var owned = arena;
        Reservation kept = LeaveLargeResidentBlock(arena);
        Assert.Equal(1, arena.KernelMappings);

        Allocation small = arena.Allocate(SizeClasses.ClassOf(2 * MiB));
        Assert.Same(kept, small.Reservation);
        Assert.Equal(1, arena.KernelMappings);
        Assert.Equal(1, os.Calls(Primitive.Reserve));
        arena.Free(small);
        Assert.Null(arena.Validate());
    }

    /// <summary>
    /// A block that shrank in place leaves the pages of its cut-off part free in its own reservation, so growing back
    /// lands on them: the growth must stay in place, not copy the buffer to resident memory elsewhere (the growth
    /// chain's step 0 copies only a buffer whose home has no resident free memory of the new size). Here the copy
    /// would throw: the address-only layer has no memory to copy, so any copy fails the test.
    /// </summary>
    [Fact]
    public void A_buffer_that_shrank_in_place_grows_back_in_place_beside_a_large_resident_block_elsewhere()
    {
        using Arena arena = HugeArena((_, _) => OsError.Success).Arena;
        Allocation buffer = arena.Allocate(SizeClasses.ClassOf(64 * MiB));
        Reservation home = buffer.Reservation!;
        Reservation kept = LeaveLargeResidentBlock(arena);
        Assert.NotSame(home, kept);

        buffer = arena.Resize(buffer, SizeClasses.ClassOf(2 * MiB), clearVacated: false);
        Assert.Same(home, buffer.Reservation);
        long inPlace = arena.GrowsInPlace;
        buffer = arena.Resize(buffer, SizeClasses.ClassOf(4 * MiB), clearVacated: false);
        Assert.Same(home, buffer.Reservation);
        Assert.Equal(inPlace + 1, arena.GrowsInPlace);
        Assert.Equal(0, arena.GrowsCopied);
        arena.Free(buffer);
        Assert.Null(arena.Validate());
    }
}
