using NativeBuffers.Arenas;
using NativeBuffers.Interop;
using NativeBuffers.Os;
using NativeBuffers.Tests.Support;

namespace NativeBuffers.Tests.Arenas;

/// <summary>
/// Worked examples of the failures the random tests hit in passing: a move whose destination the kernel
/// unmapped (or did not) before failing, a vacated range that cannot be mapped again yet, and a vacated range
/// that someone else mapped first.
/// </summary>
[Collection(nameof(SerialKernelCollection))]
[Trait(Layer.Trait, Layer.Linux)] // mremap failures on the Linux layer
public class MoveFailureTests
{
    private const long KiB = 1024;

    private static NativePoolOptions Options(VirtualMemory os, GrowthPaths paths) => GrowthFaultTests.Options(os, paths);

    /// <summary>Rents two neighbouring 64 KiB blocks, so the first cannot grow in place and must move or copy.</summary>
    private static void TwoNeighbours(PoolDriver driver)
    {
        driver.Rent(64 * KiB);
        driver.Rent(64 * KiB);
    }

    private static void AssertReservationsWhollyMapped(Arena arena)
    {
        foreach (Reservation reservation in arena.ReservationsSnapshot())
        {
            Assert.True(KernelView.IsFullyMapped(reservation.Base, reservation.End), $"reservation {reservation.Base:x}-{reservation.End:x} has an unmapped gap");
            Assert.DoesNotContain(reservation.IslandsAndHoles, s => s.Kind != RunKind.Island);
        }
    }

    [LinuxFact]
    public void A_reservation_whose_release_fails_part_way_is_never_allocated_from_again()
    {
        // A move out of offset 0 leaves a fresh range that the kernel keeps as a mapping of its own, so the empty
        // reservation is unmapped in two calls. When the second fails, the first range is gone already: the arena
        // must not hand out memory from it.
        long failReleasesFrom = long.MaxValue;
        var os = new FaultInjectingVirtualMemory(LinuxVirtualMemory.Instance, (primitive, call) =>
            primitive == Primitive.Release && call >= Volatile.Read(ref failReleasesFrom)
                ? OsError.OutOfMemory
                : OsError.Success);
        var plan = new FaultPlan(0);
        GrowthFaultTests.RunToCleanEnd(Options(os, GrowthPaths.RemapFixed | GrowthPaths.Copy), plan, driver =>
        {
            TwoNeighbours(driver);
            driver.Resize(0, 128 * KiB);                       // into the arena: an island
            Assert.Equal(1, driver.Pool.GetStatistics().GrowsRemappedFixed);
            driver.ReturnAll();
            Assert.Contains(driver.Arena.ReservationsSnapshot(), r => r.IsEmpty && r.OwnedRanges().Count() >= 2);

            Volatile.Write(ref failReleasesFrom, os.Calls(Primitive.Release) + 1);
            driver.Trim();                                     // the first range is unmapped, the next unmap fails
            Assert.True(os.Failures(Primitive.Release) >= 1, "no release failed: the test did not reach the partial release");

            foreach (Reservation reservation in driver.Arena.ReservationsSnapshot())
            {
                foreach ((nint start, long length) in reservation.OwnedRanges())
                {
                    bool hole = reservation.IslandsAndHoles.Any(s => s.Kind is RunKind.Hole or RunKind.ForeignHole
                        && reservation.Base + (nint)s.Offset <= start && start < reservation.Base + (nint)(s.Offset + s.Length));
                    Assert.True(hole || KernelView.IsFullyMapped(start, start + (nint)length),
                        $"the arena still counts {start:x}+{length} of reservation {reservation.Base:x} as usable, but it is unmapped");
                }
            }
            for (int i = 0; i < 8; i++)
                driver.Rent(64 * KiB);                         // the driver writes every byte: unmapped memory would crash here
            Volatile.Write(ref failReleasesFrom, long.MaxValue);
        }, out _);
    }

    [LinuxTheory]
    [InlineData(Libc.EFAULT, true)]
    [InlineData(Libc.ENOMEM, true)]
    [InlineData(Libc.EFAULT, false)]
    [InlineData(Libc.ENOMEM, false)]
    public void A_failed_move_into_the_arena_gets_its_destination_back_and_the_next_path_serves(int errno, bool kernelUnmapsDestinationFirst)
    {
        var plan = new FaultPlan(0) { MoveIntoFailureUnmapsDestination = kernelUnmapsDestinationFirst }.FailAt(Primitive.MoveInto, 0, new OsError(errno));
        FaultInjectingVirtualMemory os = plan.Wrap(LinuxVirtualMemory.Instance);
        GrowthFaultTests.RunToCleanEnd(Options(os, GrowthPaths.All), plan, driver =>
        {
            TwoNeighbours(driver);
            driver.Resize(0, 128 * KiB);

            Assert.Equal(1, os.Failures(Primitive.MoveInto));
            NativePoolStatistics stats = driver.Pool.GetStatistics();
            Assert.Equal(1, stats.MovesFailed);
            Assert.Equal(1, stats.GrowsRemapped); // the next path, plain mremap, served the growth
            Assert.Equal(0, stats.GrowsCopied);
            // The destination block is mapped again and free: no hole, no foreign mark, nothing lost.
            AssertReservationsWhollyMapped(driver.Arena);
            // ...and usable: the next 128 KiB rent gets a block of the arena without a new reservation.
            int reservations = stats.Reservations;
            driver.Rent(128 * KiB);
            Assert.Equal(reservations, driver.Pool.GetStatistics().Reservations);
        }, out int refused);
        Assert.Equal(0, refused);
    }

    [LinuxFact]
    public void After_a_failed_move_the_arena_asks_the_os_layer_whether_the_destination_survived()
    {
        // The question goes through the VirtualMemory contract (mincore on Linux), so a test layer sees it and
        // could answer it: no side door to the kernel that fault injection cannot reach.
        var plan = new FaultPlan(0) { MoveIntoFailureUnmapsDestination = false }.FailAt(Primitive.MoveInto, 0, OsError.OutOfMemory);
        FaultInjectingVirtualMemory os = plan.Wrap(LinuxVirtualMemory.Instance);
        var asked = new List<(nint Address, nuint Length)>();
        os.WhollyMapped = (address, length) =>
        {
            asked.Add((address, length));
            return LinuxVirtualMemory.Instance.IsWhollyMapped(address, length);
        };
        GrowthFaultTests.RunToCleanEnd(Options(os, GrowthPaths.All), plan, driver =>
        {
            TwoNeighbours(driver);
            driver.Resize(0, 128 * KiB);

            Assert.Equal(1, os.Failures(Primitive.MoveInto));
            (nint address, nuint length) = Assert.Single(asked);
            Assert.Equal((nuint)(128 * KiB), length);
            Assert.True(KernelView.IsFullyMapped(address, address + (nint)length), "the kernel refused before unmapping: the destination is intact");
            AssertReservationsWhollyMapped(driver.Arena);
        }, out int refused);
        Assert.Equal(0, refused);
    }

    [LinuxFact]
    public void A_vacated_range_that_cannot_be_mapped_again_is_a_hole_until_consolidation_maps_it()
    {
        // FillHole #0 is the one after the first successful move: giving back the range the buffer left.
        var plan = new FaultPlan(0).FailAt(Primitive.FillHole, 0, OsError.OutOfMemory);
        FaultInjectingVirtualMemory os = plan.Wrap(LinuxVirtualMemory.Instance);
        GrowthFaultTests.RunToCleanEnd(Options(os, GrowthPaths.RemapFixed | GrowthPaths.Copy), plan, driver =>
        {
            TwoNeighbours(driver);
            nint vacated = driver.Buffers[0]._allocation!.Address;
            driver.Resize(0, 128 * KiB);
            Assert.Equal(1, driver.Pool.GetStatistics().GrowsRemappedFixed);
            Assert.Equal(1, os.Failures(Primitive.FillHole));

            Reservation reservation = driver.Arena.ReservationsSnapshot().Single(r => r.Contains(vacated));
            Assert.Contains(reservation.IslandsAndHoles, s => s.Kind == RunKind.Hole && reservation.AddressOf(s.Offset) == vacated);
            Assert.True(KernelView.IsUnmapped(vacated, vacated + (nint)(64 * KiB)), "the hole should be unmapped");

            driver.Trim(); // consolidation retries the FillHole
            Assert.Equal(2, os.Calls(Primitive.FillHole));
            Assert.DoesNotContain(reservation.IslandsAndHoles, s => s.Kind == RunKind.Hole);
            Assert.True(KernelView.IsFullyMapped(vacated, vacated + (nint)(64 * KiB)), "consolidation should map the hole again");
            // The block is free again: a 64 KiB rent lands in it.
            driver.Rent(64 * KiB);
            Assert.Contains(driver.Buffers, b => b._allocation!.Address == vacated);
        }, out int refused);
        Assert.Equal(0, refused);
    }

    [LinuxFact]
    public void A_vacated_range_someone_else_mapped_first_is_never_used_or_unmapped_by_the_pool()
    {
        const int Page = 4096;
        nint foreign = 0;
        var os = new InterceptingVirtualMemory(LinuxVirtualMemory.Instance);
        // Play another thread that maps a page into the range the moved buffer just left, before the arena fills that hole.
        os.BeforeFillHole = (address, _) =>
        {
            if (foreign != 0)
                return;
            nint page = Libc.MMap(address + Page, Page, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_FIXED_NOREPLACE, -1, 0);
            Assert.Equal(address + Page, page);
            foreign = page;
            MemoryAccess.AsSpan<byte>(foreign, Page).Fill(0xA5);
        };
        var plan = new FaultPlan(0);
        try
        {
            GrowthFaultTests.RunToCleanEnd(Options(os, GrowthPaths.RemapFixed | GrowthPaths.Copy), plan, driver =>
            {
                TwoNeighbours(driver);
                nint vacated = driver.Buffers[0]._allocation!.Address;
                driver.Resize(0, 128 * KiB);
                Assert.NotEqual(0, foreign);

                Reservation reservation = driver.Arena.ReservationsSnapshot().Single(r => r.Contains(vacated));
                Assert.Contains(reservation.IslandsAndHoles, s => s.Kind == RunKind.ForeignHole && reservation.AddressOf(s.Offset) == vacated);
                // Consolidation leaves it alone, and no rent is ever placed over it.
                driver.Trim();
                for (int i = 0; i < 64; i++)
                    driver.Rent(i % 2 == 0 ? 4 * KiB : 64 * KiB);
                foreach (NativeBuffer<byte> buffer in driver.Buffers)
                {
                    nint start = buffer._allocation!.Address;
                    Assert.False(start < foreign + Page && foreign < start + (nint)buffer.Length, "a buffer was placed over the foreign mapping");
                }
            }, out _);
            // Dispose unmapped everything of the arena's, and not the foreign page.
            Assert.True(KernelView.IsFullyMapped(foreign, foreign + Page), "Dispose unmapped a mapping the pool did not own");
            Assert.True(MemoryAccess.AsSpan<byte>(foreign, Page).IndexOfAnyExcept((byte)0xA5) < 0, "the foreign page was overwritten");
        }
        finally
        {
            if (foreign != 0)
                Libc.MUnmap(foreign, Page);
        }
    }

    [LinuxFact]
    public void A_buffer_grown_past_its_reservation_gives_its_tail_back_even_if_the_first_unmap_fails()
    {
        // Plain mremap grows a block in place when it ends its reservation and the addresses after it are free.
        // Then the buffer is a block plus a tail past the reservation's end, and returning it unmaps the tail.
        // Place the first reservation so that free address space follows it, then make the tail's unmap fail.
        const int Flags = Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_NORESERVE;
        nint probe = Libc.MMap(0, 32 << 20, Libc.PROT_NONE, Flags, -1, 0);
        Assert.NotEqual(Libc.MAP_FAILED, probe);
        Libc.MUnmap(probe, 32 << 20); // [probe, probe + 32 MiB) is free now; the reservation goes in its middle
        nint placeAt = (probe + (8 << 20)) & ~((nint)(2 << 20) - 1);
        var os = new InterceptingVirtualMemory(LinuxVirtualMemory.Instance);
        bool placed = false;
        os.ReserveOverride = (length, _) =>
        {
            if (placed)
                return null;
            placed = true;
            nint at = Libc.MMap(placeAt, length, Libc.PROT_READ | Libc.PROT_WRITE, Flags | Libc.MAP_FIXED_NOREPLACE, -1, 0);
            Assert.Equal(placeAt, at);
            return at;
        };
        var plan = new FaultPlan(0);
        bool failed = false;
        GrowthFaultTests.RunToCleanEnd(Options(os, GrowthPaths.Remap | GrowthPaths.Copy), plan, driver =>
        {
            // A huge-space block (growth into the huge space from below copies, so start there): it fills the
            // placed 2 MiB reservation and so ends the mapping.
            driver.Rent(2048 * KiB);
            Assert.Equal(placeAt, driver.Buffers[0]._allocation!.Address);
            driver.Resize(0, 4096 * KiB);
            Allocation allocation = driver.Buffers[0]._allocation!;
            Assert.True(allocation.IsAnchored, "the kernel did not grow the block in place past the reservation");
            nint tail = allocation.Address + (nint)allocation.AnchorBytes;
            os.ReleaseOverride = (address, _) =>
            {
                if (address != tail || failed)
                    return null;
                failed = true;
                return OsError.OutOfMemory;
            };
            driver.Return(0);
            Assert.True(failed, "the tail's unmap was not attempted");
            os.ReleaseOverride = null;
            driver.Trim();
        }, out _); // RunToCleanEnd: after Dispose nothing of the arena's may be mapped, the tail included
    }
}
