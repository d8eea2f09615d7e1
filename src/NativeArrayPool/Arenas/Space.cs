using NativeBuffers.Os;

namespace NativeBuffers.Arenas;

/// <summary>
/// A set of reservations that share a granule and a reservation schedule. The arena has two: the small space
/// (4 KiB granules; slabs and blocks below 2 MiB) and the huge space (2 MiB granules and alignment, huge pages
/// advised on whole reservations so no VMA is split by madvise).
/// Not thread-safe: the arena calls it under its lock.
/// </summary>
internal sealed class Space
{
    private readonly VirtualMemory _os;
    private ReservationSchedule _schedule;
    private readonly List<Reservation> _reservations = new();
    // What is left of reservations whose release failed part way (a reservation is unmapped one run at a time):
    // nothing may be allocated from them any more, and later releases, and disposal, unmap the rest.
    private readonly List<(nint Start, long Length)> _pendingRelease = new();

    public Space(VirtualMemory os, int granuleShift, bool hugePages, long minimumReservation, int perSize)
    {
        _os = os;
        GranuleShift = granuleShift;
        HugePages = hugePages;
        _schedule = new ReservationSchedule(Math.Max(minimumReservation, 1L << granuleShift), perSize);
    }

    public int GranuleShift { get; }
    public bool HugePages { get; }

    /// <summary>
    /// Whether a block goes where it has the most room to grow in place: among reservations that may hold resident
    /// free memory, the one with the largest free block first (oldest first among equals; inside it the buddy
    /// allocator takes the smallest free block that fits, except for a buffer already growing, which takes the front
    /// of the largest: see <see cref="TryAllocate"/>). The huge space's blocks
    /// are big buffers, typically grown by doubling; placed in the first resident reservation with room for the
    /// block alone (behind a buffer that stays rented, say), a buffer must move at its next doubling, and every
    /// later move lands where nothing is resident.
    /// </summary>
    public bool RoomFirst { get; init; }

    public IReadOnlyList<Reservation> Reservations => _reservations;
    /// <summary>Ranges of condemned reservations still to unmap (each one kernel mapping).</summary>
    public IReadOnlyList<(nint Start, long Length)> PendingRelease => _pendingRelease;
    public long ReservedBytes { get; private set; }
    public int Reserves { get; private set; }

    /// <summary>The buddy order of a block of <paramref name="bytes"/> (a power of two ≥ the granule).</summary>
    public int OrderOf(long bytes) => System.Numerics.BitOperations.Log2((ulong)bytes) - GranuleShift;

    /// <summary>
    /// How many times its own size a resident free block may be for a plain rent to split it, as a power of two
    /// (jemalloc's <c>lg_extent_max_active_fit</c>, whose default this is). A small buffer placed inside a large
    /// resident block keeps the next big buffer from growing there: after a 1 GiB append returned its block, a 2 MiB
    /// rent left in the middle of it makes the next append's last doubling land on 512 MiB of fresh pages (517 page
    /// faults, measured: <c>append 3 pinned</c>), while the same rent in fresh memory costs one 2 MiB page.
    /// </summary>
    public const int MaxResidentSplitShift = 6;

    /// <summary>
    /// Takes a free block from the existing reservations, oldest first so old reservations fill and new ones can
    /// empty. Reservations that may hold resident free memory (<see cref="Reservation.MayHoldResidentFree"/>) are
    /// tried first when <paramref name="residentFirst"/> (a block its tenant will write), and last otherwise (the
    /// destination of a page move, which frees the pages it lands on). With <paramref name="growing"/> (a block taken
    /// for a buffer that is growing, by a copy) a room-first space takes it from the front of the chosen reservation's
    /// largest free block, so the buffer goes on doubling in place over the resident memory there; a plain rent takes
    /// the smallest free block that fits, keeping the large ones whole. With <paramref name="spareLargeResident"/>, a
    /// plain rent in a room-first space also passes over the reservation a growing buffer would take its block from,
    /// when the rent would split there a free block that a tenant more than 2^<see cref="MaxResidentSplitShift"/> times
    /// its size left resident: the caller then maps new space for it, and comes back without the flag only when it
    /// cannot. One reservation at most is passed over, so new space is mapped only when every other one is full.
    /// </summary>
    public bool TryAllocate(int order, bool residentFirst, out Reservation reservation, out long offset, bool growing = false, bool spareLargeResident = false)
    {
        Reservation? spared = spareLargeResident && RoomFirst && !growing ? ReservationToSpare(order) : null;
        if (residentFirst && RoomFirst && TryAllocateWithMostRoom(order, growing, spared, out reservation, out offset))
            return true;
        foreach (bool resident in residentFirst ? s_residentFirst : s_residentLast)
        {
            foreach (Reservation candidate in _reservations)
            {
                if (candidate != spared && candidate.MayHoldResidentFree == resident && candidate.FreeBytes >= candidate.BlockBytes(order)
                    && candidate.TryAllocate(order, out offset))
                {
                    reservation = candidate;
                    return true;
                }
            }
        }
        reservation = null!;
        offset = 0;
        return false;
    }

    private bool TryAllocateWithMostRoom(int order, bool growing, Reservation? skip, out Reservation reservation, out long offset)
    {
        Reservation? best = WithMostRoom(order, skip);
        offset = 0;
        reservation = best!;
        return best is not null && (growing ? best.TryAllocateAtLargest(order, out offset) : best.TryAllocate(order, out offset));
    }

    /// <summary>
    /// Among reservations that may hold resident free memory (but <paramref name="skip"/>), the one with the largest
    /// free block of at least <paramref name="order"/>, oldest first among equals; null when none has room.
    /// </summary>
    private Reservation? WithMostRoom(int order, Reservation? skip)
    {
        Reservation? best = null;
        int bestOrder = order - 1;
        foreach (Reservation candidate in _reservations)
        {
            int largest = candidate.MayHoldResidentFree && candidate != skip ? candidate.LargestFreeOrder : -1;
            if (largest > bestOrder)
                (best, bestOrder) = (candidate, largest);
        }
        return best;
    }

    /// <summary>Whether any reservation has a free block of <paramref name="order"/> or larger.</summary>
    public bool HasRoomFor(int order)
    {
        foreach (Reservation candidate in _reservations)
        {
            if (candidate.SmallestFreeOrderFrom(order) >= 0)
                return true;
        }
        return false;
    }

    /// <summary>
    /// The reservation a plain rent of <paramref name="order"/> should pass over, or null: the one the next growing
    /// buffer would take its block from (<see cref="WithMostRoom"/>), when the rent would split there a free block of
    /// more than 2^<see cref="MaxResidentSplitShift"/> times its size and a tenant that large left its pages there
    /// (<see cref="Reservation.LargestResidentFreeOrder"/>). Only that one: sparing every such block, a space whose
    /// reservations double in size (one per size) sent each small rent to new space, the next big rent there (it has the
    /// most room), and so the next small rent to newer space, one reservation more per round without bound.
    /// </summary>
    private Reservation? ReservationToSpare(int order)
    {
        Reservation? next = WithMostRoom(order, skip: null);
        return next is not null
            && Math.Min(next.SmallestFreeOrderFrom(order), next.LargestResidentFreeOrder) - order > MaxResidentSplitShift
            ? next : null;
    }

    /// <summary>
    /// Where a block of <paramref name="order"/> in <paramref name="home"/>, growing to <paramref name="newOrder"/>,
    /// should be copied rather than grow where it is; null to grow as usual. Home has no resident free memory of the
    /// new size (no tenant that large left pages there, so growing in place writes fresh pages), while another
    /// reservation has a free block more than 2^<see cref="MaxResidentSplitShift"/> times the block's size that such a
    /// tenant left resident: typically the block a plain rent spared (<see cref="ReservationToSpare"/>), now wanted
    /// by a buffer that turned out to grow. The copy is then under 1/64 of the resident memory it gains.
    /// </summary>
    public Reservation? ResidentRoomToGrowInto(Reservation home, int order, int newOrder)
    {
        if (!RoomFirst || home.LargestResidentFreeOrder >= newOrder)
            return null;
        Reservation? room = WithMostRoom(newOrder, skip: home);
        return room is not null && Math.Min(room.LargestFreeOrder, room.LargestResidentFreeOrder) - order > MaxResidentSplitShift
            ? room : null;
    }

    private static readonly bool[] s_residentFirst = [true, false];
    private static readonly bool[] s_residentLast = [false, true];

    /// <summary>Maps the next reservation on the schedule, big enough for <paramref name="demandBytes"/>.</summary>
    public OsError Reserve(long demandBytes, out Reservation reservation)
    {
        ReservationSchedule attempt = _schedule;
        long size = attempt.Next(demandBytes);
        // Huge reservations are aligned to their size up to 1 GiB (a PUD): blocks of 1 GiB and more are then
        // PUD-aligned, and mremap moves them by PUD entries. Measured on the 6.18 VM: a written 1 GiB THP buffer
        // moved into another reservation took 25-114 ms at 2 MiB alignment (one PMD at a time) and 0.1-0.2 ms at
        // 1 GiB alignment. The over-mapped slack is trimmed at once, so it costs address space only briefly.
        long alignment = Math.Min(size, GranuleShift >= 21 ? 1L << 30 : 1L << 21);
        OsError error = _os.Reserve((nuint)size, (nuint)Math.Max(alignment, (long)_os.PageSize), HugePages, out nint address);
        if (error.IsFailure)
        {
            reservation = null!;
            return error;
        }
        // Only a mapping that exists advances the schedule: a failed reserve must not inflate the next size.
        _schedule = attempt;
        reservation = new Reservation(address, size, GranuleShift, HugePages);
        _reservations.Add(reservation);
        ReservedBytes += size;
        Reserves++;
        return OsError.Success;
    }

    /// <summary>
    /// Unmaps an empty reservation, run by run. Returns the first OS error. If the first unmap fails, the reservation
    /// stays whole and usable; if a later one fails, part of it is gone, so the reservation is condemned at once (taken out of
    /// the space, never allocated from again) and its remaining runs wait in <see cref="PendingRelease"/>, which the arena retries on
    /// every trim and at disposal (<see cref="RetryPendingReleases"/>).
    /// </summary>
    public OsError Release(Reservation reservation)
    {
        List<(nint Start, long Length)> runs = reservation.OwnedRanges().ToList();
        for (int i = 0; i < runs.Count; i++)
        {
            OsError error = _os.Release(runs[i].Start, (nuint)runs[i].Length);
            if (error.IsSuccess)
                continue;
            if (i > 0)
            {
                _reservations.Remove(reservation);
                _schedule.Retreat();
                ReservedBytes -= reservation.Size;
                for (int j = i; j < runs.Count; j++)
                {
                    _pendingRelease.Add(runs[j]);
                    ReservedBytes += runs[j].Length;
                }
            }
            return error;
        }
        _reservations.Remove(reservation);
        _schedule.Retreat(); // the schedule sizes by the live reservations: trims must not ratchet it up (see Retreat)
        ReservedBytes -= reservation.Size;
        return OsError.Success;
    }

    /// <summary>Unmaps what earlier partial releases left. Ranges the kernel still refuses stay for the next time.</summary>
    public void RetryPendingReleases()
    {
        for (int i = _pendingRelease.Count - 1; i >= 0; i--)
        {
            (nint start, long length) = _pendingRelease[i];
            if (_os.Release(start, (nuint)length).IsSuccess)
            {
                _pendingRelease.RemoveAt(i);
                ReservedBytes -= length;
            }
        }
    }

    public Reservation? Find(nint address)
    {
        foreach (Reservation reservation in _reservations)
        {
            if (reservation.Contains(address))
                return reservation;
        }
        return null;
    }
}
