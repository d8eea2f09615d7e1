using FsCheck;
using FsCheck.Fluent;
using NativeBuffers.Arenas;
using NativeBuffers.Tests.Support;

namespace NativeBuffers.Tests.Arenas;

/// <summary>
/// Kuszmaul's bounds: with K reservations per size before doubling, N chunk demands need at most
/// K·⌈log2 N⌉ + K reservations, and reserve at most (1+K)/K of the demand plus one minimum reservation.
/// </summary>
public class ReservationScheduleTests
{
    private static int Log2Ceiling(long n) => n <= 1 ? 0 : 64 - System.Numerics.BitOperations.LeadingZeroCount((ulong)(n - 1));

    [Fact]
    public void Chunk_demands_respect_Kuszmauls_bounds_in_the_schedule_model()
    {
        // Demands are for one chunk each; a new reservation is made only when every earlier one is full.
        Arbitrary<(int K, int MinimumChunks, int Demands)> cases =
            (from k in Gen.Choose(1, 16)
             from minimum in Gen.Elements(1, 2, 4, 8)
             from demands in Gen.Choose(1, 200_000)
             select (k, minimum, demands)).ToArbitrary();
        Prop.ForAll(cases, c =>
        {
            var schedule = new ReservationSchedule(c.MinimumChunks, c.K);
            long reserved = 0, reservations = 0;
            for (long demanded = 1; demanded <= c.Demands; demanded++)
            {
                if (demanded > reserved)
                {
                    reserved += schedule.Next(1);
                    reservations++;
                }
            }
            bool countBound = reservations <= (long)c.K * Log2Ceiling(c.Demands) + c.K;
            bool spaceBound = reserved * c.K <= (1 + c.K) * (long)c.Demands + (long)c.K * c.MinimumChunks;
            return (countBound && spaceBound).Label($"K={c.K} N={c.Demands} reservations={reservations} reserved={reserved}");
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void The_real_space_makes_the_same_reservations_for_chunk_demands()
    {
        // The same bounds through Space and Reservation, the code the arena runs, with chunks of one granule.
        Arbitrary<(int K, int Demands)> cases = (from k in Gen.Choose(1, 8) from demands in Gen.Choose(1, 20_000) select (k, demands)).ToArbitrary();
        Prop.ForAll(cases, c =>
        {
            var os = new AddressOnlyVirtualMemory();
            const int granuleShift = 12;
            var space = new Space(os, granuleShift, hugePages: false, minimumReservation: 2L << 20, perSize: c.K);
            for (int i = 0; i < c.Demands; i++)
            {
                if (!space.TryAllocate(0, residentFirst: true, out _, out _))
                {
                    Assert.True(space.Reserve(4096, out Reservation reservation).IsSuccess);
                    Assert.True(reservation.TryAllocate(0, out _));
                }
            }
            long minimumChunks = (2L << 20) >> granuleShift;
            long reservedChunks = space.ReservedBytes >> granuleShift;
            int count = space.Reservations.Count;
            // N in units of the minimum reservation: the schedule's levels count from there.
            long units = (c.Demands + minimumChunks - 1) / minimumChunks;
            bool countBound = count <= (long)c.K * Log2Ceiling(units) + c.K;
            bool spaceBound = reservedChunks * c.K <= (1 + c.K) * (long)c.Demands + c.K * minimumChunks;
            return (countBound && spaceBound).Label($"K={c.K} N={c.Demands} reservations={count} reservedChunks={reservedChunks}");
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Mixed_demands_through_the_real_space_keep_the_reservation_count_bound()
    {
        // Demands of 1 to 2^12 granules (powers of two, as size classes are) in any order, some larger than the
        // schedule's current size so that it jumps. The count bound holds for any sizes: levels only rise, each
        // holds at most K reservations, and a level is reached only by K full reservations below it or by a demand
        // larger than the level below, so N units of demand never go past level ⌈log2 N⌉. (The space bound is
        // for equal chunks: with mixed sizes a reservation can keep free blocks too small for what comes next.)
        Arbitrary<(int K, int[] Orders)> cases =
            (from k in Gen.Choose(1, 8)
             from orders in Gen.Choose(0, 12).ArrayOf()
             select (k, orders)).ToArbitrary();
        Prop.ForAll(cases, c =>
        {
            var os = new AddressOnlyVirtualMemory();
            const int granuleShift = 12;
            const long minimum = 2L << 20;
            var space = new Space(os, granuleShift, hugePages: false, minimumReservation: minimum, perSize: c.K);
            long demanded = 0;
            foreach (int order in c.Orders)
            {
                long bytes = 1L << (granuleShift + order);
                demanded += bytes;
                if (!space.TryAllocate(order, residentFirst: true, out _, out _))
                {
                    Assert.True(space.Reserve(bytes, out Reservation reservation).IsSuccess);
                    Assert.True(reservation.TryAllocate(order, out _));
                }
            }
            long units = Math.Max(1, (demanded + minimum - 1) / minimum);
            int count = space.Reservations.Count;
            return (count <= (long)c.K * Log2Ceiling(units) + c.K)
                .Label($"K={c.K} demands={c.Orders.Length} demanded={demanded} reservations={count} reserved={space.ReservedBytes}");
        }).QuickCheckThrowOnFailure();
    }

    /// <summary>
    /// Reservations that trims release stop counting: a space that reserves and releases over and over (a pool
    /// trimmed between bursts, by the idle policy or explicitly) keeps reserving the size of its live count. When
    /// releases did not step the schedule back, it doubled every K reservations for ever: after some dozens of trims
    /// of a pool with a few huge buffers the next reservation asked for 64 TiB of address space and every rent of a
    /// new block failed with ENOMEM.
    /// </summary>
    [Fact]
    public void Reservations_released_step_the_schedule_back()
    {
        var os = new AddressOnlyVirtualMemory();
        const long minimum = 2L << 20;
        var space = new Space(os, granuleShift: 21, hugePages: false, minimumReservation: minimum, perSize: 2);
        for (int round = 0; round < 200; round++)
        {
            var made = new List<Reservation>();
            for (int i = 0; i < 3; i++)
            {
                Assert.True(space.Reserve(minimum, out Reservation reservation).IsSuccess);
                made.Add(reservation);
            }
            // Three live reservations with K = 2: two of the minimum, then one of twice that, every round.
            Assert.Equal([minimum, minimum, 2 * minimum], made.Select(r => r.Size));
            foreach (Reservation reservation in made)
                Assert.True(space.Release(reservation).IsSuccess);
            Assert.Equal(0, space.ReservedBytes);
        }
    }

    [Fact]
    public void A_demand_larger_than_the_schedule_jumps_to_its_power_of_two()
    {
        var schedule = new ReservationSchedule(8L << 20, 4);
        Assert.Equal(8L << 20, schedule.Next(1));
        Assert.Equal(1L << 30, schedule.Next((1L << 30) - 5));
        // The jump starts a new run of K at that size.
        Assert.Equal(1L << 30, schedule.Next(1));
        Assert.Equal(1L << 30, schedule.Next(1));
        Assert.Equal(1L << 30, schedule.Next(1));
        Assert.Equal(2L << 30, schedule.Next(1));
    }
}
