using NativeBuffers.Arenas;
using NativeBuffers.Tests.Support;

namespace NativeBuffers.Tests.Arenas;

/// <summary>Where a space places a block among its reservations, without touching memory.</summary>
public class SpaceTests
{
    private const int HugeGranuleShift = 21;
    private const long MiB = 1L << 20;

    /// <summary>Two 8 MiB reservations of 2 MiB granules; the second holds resident free memory.</summary>
    private static (Space Space, Reservation Old, Reservation Resident) TwoReservations(bool roomFirst)
    {
        var space = new Space(new AddressOnlyVirtualMemory(), HugeGranuleShift, hugePages: false, minimumReservation: 8 * MiB, perSize: 4) { RoomFirst = roomFirst };
        Assert.True(space.Reserve(8 * MiB, out Reservation old).IsSuccess);
        Assert.True(space.Reserve(8 * MiB, out Reservation resident).IsSuccess);
        resident.NoteResidentFree(resident.MaxOrder);
        return (space, old, resident);
    }

    [Fact]
    public void A_block_goes_to_resident_free_memory_first_and_a_page_move_goes_there_last()
    {
        (Space space, Reservation old, Reservation resident) = TwoReservations(roomFirst: false);
        Assert.True(space.TryAllocate(0, residentFirst: true, out Reservation rented, out _));
        Assert.Same(resident, rented);     // the tenant writes it: resident pages take no faults
        Assert.True(space.TryAllocate(0, residentFirst: false, out Reservation moved, out _));
        Assert.Same(old, moved);           // a move frees the pages it lands on
    }

    [Fact]
    public void In_a_room_first_space_a_block_goes_where_the_largest_resident_free_block_is()
    {
        foreach (bool roomFirst in new[] { false, true })
        {
            (Space space, Reservation old, Reservation resident) = TwoReservations(roomFirst);
            old.NoteResidentFree(old.MaxOrder);
            Assert.True(old.TryAllocate(0, out long pinned)); // a buffer that stays: the old reservation's largest free block is 4 MiB
            Assert.Equal(0, pinned);
            Assert.True(space.TryAllocate(0, residentFirst: true, out Reservation chosen, out long offset));
            // Oldest first, the block lands behind the pinned one and cannot double in place; room first, it lands
            // at the start of the empty reservation and can grow in place to 8 MiB.
            Assert.Same(roomFirst ? resident : old, chosen);
            Assert.Equal(roomFirst ? 0 : 2 * MiB, offset);
        }
    }

    /// <summary>
    /// Behind a buffer that stays rented at the front of a resident reservation, the free blocks are 2, 4 and 8 MiB
    /// (of 16). A rent takes the smallest that fits and keeps the large ones whole; a block for a growing buffer
    /// (<c>growing</c>, what a copy into the huge space asks for) takes the front of the largest, from where it can
    /// double in place over the resident memory to 8 MiB. Taken behind the pinned buffer, it had to move at its
    /// first doubling, into memory that was not resident (issue 13's <c>pinned</c> history).
    /// </summary>
    [Fact]
    public void A_block_for_a_growing_buffer_takes_the_front_of_the_largest_resident_free_block()
    {
        var space = new Space(new AddressOnlyVirtualMemory(), HugeGranuleShift, hugePages: false, minimumReservation: 16 * MiB, perSize: 4) { RoomFirst = true };
        Assert.True(space.Reserve(16 * MiB, out Reservation resident).IsSuccess);
        resident.NoteResidentFree(resident.MaxOrder);
        Assert.True(resident.TryAllocate(0, out long pinned));
        Assert.Equal(0, pinned);

        Assert.True(space.TryAllocate(0, residentFirst: true, out Reservation growingIn, out long growingAt, growing: true));
        Assert.Same(resident, growingIn);
        Assert.Equal(8 * MiB, growingAt);
        for (int order = 1; order <= 2; order++)
            Assert.True(resident.TryGrowInPlace(growingAt, order - 1, order), $"the block could not grow in place to {2 << order} MiB");

        Assert.True(space.TryAllocate(0, residentFirst: true, out Reservation rentedIn, out long rentedAt));
        Assert.Same(resident, rentedIn);
        Assert.Equal(2 * MiB, rentedAt); // the smallest free block that fits, behind the pinned one
        Assert.Null(resident.Validate());
    }

    /// <summary>
    /// A plain rent passes over a resident free block more than 2^<see cref="Space.MaxResidentSplitShift"/> times its
    /// size when asked to spare it (the arena asks first, and maps new space when nothing else has room), and splits
    /// one at most that large. A block for a growing buffer takes the front of the largest resident block regardless.
    /// </summary>
    [Fact]
    public void A_plain_rent_spares_a_resident_block_more_than_64_times_its_size_and_a_growing_one_does_not()
    {
        var space = new Space(new AddressOnlyVirtualMemory(), HugeGranuleShift, hugePages: false, minimumReservation: 8 * MiB, perSize: 4) { RoomFirst = true };
        Assert.True(space.Reserve(256 * MiB, out Reservation large).IsSuccess);
        large.NoteResidentFree(large.MaxOrder);

        Assert.False(space.TryAllocate(0, residentFirst: true, out _, out _, spareLargeResident: true));
        Assert.True(space.HasRoomFor(0));
        Assert.True(space.TryAllocate(0, residentFirst: true, out Reservation growingIn, out long growingAt, growing: true, spareLargeResident: true));
        Assert.Same(large, growingIn);
        Assert.Equal(0, growingAt);
        large.Free(growingAt, 0);

        Assert.True(space.Reserve(8 * MiB, out Reservation fresh).IsSuccess);
        Assert.True(space.TryAllocate(0, residentFirst: true, out Reservation spared, out _, spareLargeResident: true));
        Assert.Same(fresh, spared); // not resident, but the large block stays whole
        Assert.True(space.TryAllocate(0, residentFirst: true, out Reservation split, out _));
        Assert.Same(large, split);  // without sparing: room first, as before

        // A block exactly 64 times the rent's size is split even when sparing.
        var second = new Space(new AddressOnlyVirtualMemory(), HugeGranuleShift, hugePages: false, minimumReservation: 8 * MiB, perSize: 4) { RoomFirst = true };
        Assert.True(second.Reserve(2 * MiB << Space.MaxResidentSplitShift, out Reservation limit).IsSuccess);
        limit.NoteResidentFree(limit.MaxOrder);
        Assert.True(second.TryAllocate(0, residentFirst: true, out Reservation atLimit, out _, spareLargeResident: true));
        Assert.Same(limit, atLimit);
        Assert.Null(large.Validate());
    }

    /// <summary>
    /// Sparing is for a large block a big tenant left resident: in a reservation where only a 2 MiB tenant was freed
    /// (however often), the 256 MiB free block holds at most 2 MiB of resident pages, and a plain rent splits it rather
    /// than have new space mapped (which, once that rent returned, would look the same: one more mapping per rent).
    /// </summary>
    [Fact]
    public void A_plain_rent_splits_a_large_free_block_that_only_small_tenants_left_resident()
    {
        var space = new Space(new AddressOnlyVirtualMemory(), HugeGranuleShift, hugePages: false, minimumReservation: 8 * MiB, perSize: 4) { RoomFirst = true };
        Assert.True(space.Reserve(256 * MiB, out Reservation passedThrough).IsSuccess);
        for (int i = 0; i < 3; i++)
        {
            Assert.True(passedThrough.TryAllocate(0, out long offset));
            passedThrough.Free(offset, 0);
            passedThrough.NoteResidentFree(0);
        }
        Assert.True(space.TryAllocate(0, residentFirst: true, out Reservation rentedIn, out _, spareLargeResident: true));
        Assert.Same(passedThrough, rentedIn);

        // The block a big tenant left is spared again once its reservation is known to hold it.
        passedThrough.Free(0, 0);
        passedThrough.NoteResidentFree(passedThrough.MaxOrder);
        Assert.False(space.TryAllocate(0, residentFirst: true, out _, out _, spareLargeResident: true));
        passedThrough.NoteDiscarded();
        Assert.True(space.TryAllocate(0, residentFirst: true, out Reservation afterDiscard, out _, spareLargeResident: true));
        Assert.Same(passedThrough, afterDiscard);
        Assert.Null(passedThrough.Validate());
    }
}
