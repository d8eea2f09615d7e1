using FsCheck;
using FsCheck.Fluent;
using NativeBuffers.Arenas;

namespace NativeBuffers.Tests.Arenas;

/// <summary>The buddy allocator and the kernel-mapping model of one reservation, without touching memory.</summary>
public class ReservationTests
{
    private const int GranuleShift = 12;
    private const long Size = 4L << 20; // 1024 granules, orders 0..10
    private static readonly nint Base = unchecked((nint)(1L << 40));

    /// <summary>
    /// An island kept as free memory has a foreign page offset, and so do its pieces once an unstamped cut (a move
    /// into the huge space) gives them identities of their own: a range mapped again between two pieces merges
    /// with neither.
    /// </summary>
    [Fact]
    public void Pieces_of_a_kept_island_never_merge_with_a_range_mapped_again_between_them()
    {
        var reservation = new Reservation(Base, Size, GranuleShift, hugePages: false);
        Assert.True(reservation.TryAllocate(reservation.MaxOrder, out long whole));
        reservation.MarkIsland(whole, Size);
        Assert.True(reservation.IsWholeIsland);
        reservation.KeepIsland(whole, Size);
        reservation.Free(whole, reservation.MaxOrder);
        Assert.Equal(1, reservation.VmaCount);
        Assert.False(reservation.IsWholeIsland);

        int order = reservation.MaxOrder - 2; // 1 MiB
        Assert.True(reservation.TryAllocate(order, out long left));
        Assert.True(reservation.TryAllocate(order, out long middle));
        Assert.Equal(1L << 20, middle - left);
        reservation.MarkIsland(middle, 1L << 20);  // unstamped: the right-hand piece gets an identity of its own
        Assert.Equal(3, reservation.VmaCount);
        reservation.MarkFresh(middle, 1L << 20);   // the island went, its range mapped again
        Assert.Equal(3, reservation.VmaCount);
        Assert.Null(reservation.Validate());
    }

    [Fact]
    public void Random_allocate_grow_shrink_free_sequences_keep_the_buddy_invariants()
    {
        Arbitrary<(int Kind, int A, int B)[]> ops = (from kind in Gen.Choose(0, 3)
             from a in Gen.Choose(0, 10)
             from b in Gen.Choose(0, 10_000)
             select (kind, a, b)).ArrayOf().ToArbitrary();
        Prop.ForAll(ops, sequence =>
        {
            var reservation = new Reservation(Base, Size, GranuleShift, hugePages: false);
            var live = new List<(long Offset, int Order)>();
            foreach ((int kind, int a, int b) in sequence)
            {
                switch (kind)
                {
                    case 0:
                        if (reservation.TryAllocate(a, out long offset))
                            live.Add((offset, a));
                        else
                            Assert.True(NothingFreeAtOrAbove(reservation, a), "allocation failed although a block of that order was free");
                        break;
                    case 1 when live.Count > 0:
                        int i = b % live.Count;
                        reservation.Free(live[i].Offset, live[i].Order);
                        live.RemoveAt(i);
                        break;
                    case 2 when live.Count > 0:
                        int g = b % live.Count;
                        int target = Math.Min(10, live[g].Order + 1 + a % 3);
                        if (reservation.TryGrowInPlace(live[g].Offset, live[g].Order, target))
                            live[g] = (live[g].Offset, target);
                        break;
                    case 3 when live.Count > 0:
                        int s = b % live.Count;
                        if (live[s].Order > 0)
                        {
                            int smaller = live[s].Order - 1 - a % live[s].Order;
                            reservation.ShrinkInPlace(live[s].Offset, live[s].Order, Math.Max(0, smaller));
                            live[s] = (live[s].Offset, Math.Max(0, smaller));
                        }
                        break;
                }
                Assert.Null(reservation.Validate());
                long used = live.Sum(l => 1L << (GranuleShift + l.Order));
                Assert.Equal(Size - used, reservation.FreeBytes);
                var ordered = live.OrderBy(l => l.Offset).ToList();
                for (int k = 1; k < ordered.Count; k++)
                    Assert.True(ordered[k - 1].Offset + (1L << (GranuleShift + ordered[k - 1].Order)) <= ordered[k].Offset, "live blocks overlap");
                foreach (var l in live)
                    Assert.Equal(0, l.Offset & ((1L << (GranuleShift + l.Order)) - 1));
            }
            foreach (var l in live)
                reservation.Free(l.Offset, l.Order);
            Assert.True(reservation.IsEmpty);
            Assert.Null(reservation.Validate());
        }).QuickCheckThrowOnFailure();
    }

    // With nothing of this order or larger free, the allocation must fail; used to check a failure was honest.
    private static bool NothingFreeAtOrAbove(Reservation reservation, int order)
    {
        bool any = false;
        for (int o = order; o <= reservation.MaxOrder; o++)
        {
            if (reservation.TryAllocate(o, out long offset))
            {
                any = true;
                reservation.Free(offset, o);
                break;
            }
        }
        return !any;
    }

    [Fact]
    public void Growing_in_place_needs_alignment_and_free_buddies()
    {
        var reservation = new Reservation(Base, Size, GranuleShift, hugePages: false);
        Assert.True(reservation.TryAllocate(0, out long first));
        Assert.True(reservation.TryAllocate(0, out long second));
        Assert.False(reservation.TryGrowInPlace(first, 0, 1)); // its buddy is taken
        reservation.Free(second, 0);
        Assert.True(reservation.TryGrowInPlace(first, 0, 3));
        Assert.Equal(Size - (8L << GranuleShift), reservation.FreeBytes);
        Assert.Null(reservation.Validate());
    }

    [Theory]
    [InlineData(0, 1L << 20, 2)]              // at the start: island + fresh rest
    [InlineData(2L << 20, 1L << 20, 3)]       // in the middle: fresh, island, fresh
    [InlineData(3L << 20, 1L << 20, 2)]       // at the end
    [InlineData(0, Size, 1)]                  // the whole reservation: the island replaces its VMA
    public void An_island_costs_what_the_kernel_measurements_say(long offset, long length, int expected)
    {
        var reservation = new Reservation(Base, Size, GranuleShift, hugePages: false);
        Assert.Equal(expected, reservation.VmaCountWithIsland(offset, length));
        reservation.MarkStamped(offset); // as the arena does before a move cuts an identity
        reservation.MarkIsland(offset, length);
        Assert.Equal(expected, reservation.VmaCount);
        reservation.MarkFresh(offset, length);
        // Mapped again with a fresh neighbour on its left it merges back; at offset 0 the mapping before the
        // reservation may take it, so the model counts it apart.
        Assert.Equal(offset == 0 && length < Size ? 2 : 1, reservation.VmaCount);
    }

    [Fact]
    public void Pieces_of_an_identity_cut_before_it_was_stamped_stay_apart()
    {
        // Nobody may have written the mapping before the cut, so each piece may get its own anon_vma later.
        var reservation = new Reservation(Base, Size, GranuleShift, hugePages: false);
        Assert.True(reservation.NeedsStamp(2L << 20));
        reservation.MarkIsland(2L << 20, 1L << 20);
        reservation.MarkFresh(2L << 20, 1L << 20);
        Assert.Equal(2, reservation.VmaCount);        // [0, 3) joined the left piece; [3, 4) stays apart

        var stamped = new Reservation(Base, Size, GranuleShift, hugePages: false);
        stamped.MarkStamped(2L << 20);
        Assert.False(stamped.NeedsStamp(2L << 20));
        stamped.MarkIsland(2L << 20, 1L << 20);
        Assert.False(stamped.NeedsStamp(3L << 20));   // the pieces share the stamped identity
        stamped.MarkFresh(2L << 20, 1L << 20);
        Assert.Equal(1, stamped.VmaCount);
    }

    [Fact]
    public void A_range_mapped_again_between_two_identities_merges_with_one_side_only()
    {
        // Island at [1, 2) MiB and [2, 3) MiB; the first leaves while the second keeps [0, 1) and [1, 2) apart,
        // so [1, 2) mapped again joins [0, 1). When the second leaves, [2, 3) joins [1, 2)'s identity.
        var reservation = new Reservation(Base, Size, GranuleShift, hugePages: false);
        reservation.MarkIsland(0, 1L << 20);
        reservation.MarkIsland(1L << 20, 1L << 20);
        reservation.MarkFresh(0, 1L << 20);          // between the edge and an island: a new identity
        Assert.Equal(3, reservation.VmaCount);        // new fresh, island, original fresh [2, 4)
        reservation.MarkFresh(1L << 20, 1L << 20);    // joins its left neighbour; the right one is another identity
        Assert.Equal(2, reservation.VmaCount);        // [0, 2) and [2, 4) stay apart, as the kernel keeps them
    }

    [Fact]
    public void A_foreign_hole_is_never_part_of_what_we_unmap()
    {
        var reservation = new Reservation(Base, Size, GranuleShift, hugePages: false);
        reservation.MarkHole(1L << 20, 1L << 20, foreign: true);
        var ranges = reservation.OwnedRanges().ToList();
        Assert.Equal(2, ranges.Count);
        Assert.Equal((Base, 1L << 20), ranges[0]);
        Assert.Equal((Base + (nint)(2L << 20), 2L << 20), ranges[1]);
        Assert.Equal(2, reservation.VmaCount); // a hole splits the fresh run but costs no mapping itself
    }
}
