using NativeBuffers.Os;

namespace NativeBuffers.Arenas;

// Giving memory back without giving address space back: the pages of free blocks (and of empty slabs) are
// discarded with madvise(MADV_DONTNEED). The range stays mapped and read-write, so no VMA is split and the
// kernel-mapping model is unchanged; the next touch faults in a zero page. Unmapping whole empty
// reservations is ReleaseUnused's job (Arena.cs); this file handles the memory that stays reserved. The one
// exception to "no VMA changes" is Reknit: a reservation that holds no data is mapped afresh as one mapping.
//
// A reservation's FreeVersion moves on with every free, so a discard pass skips reservations where nothing
// was freed since their last discard. Idle trimming uses the same version as a clock-free change detector:
// a reservation whose version has not moved for the idle time has its free pages discarded.
internal partial class Arena
{
    /// <summary>Bytes of free memory whose pages were discarded, over the arena's life (written under the lock).</summary>
    public long BytesDiscarded;

    /// <summary>Discards the pages of every free block freed since its reservation's last discard, and of empty slabs. Returns the bytes discarded.</summary>
    public long DiscardFree() => Discard(idleOnly: false, now: 0, idleTicks: 0);

    /// <summary>
    /// Idle trimming, called periodically: discards the free pages of reservations where nothing has been freed
    /// for <paramref name="idleTicks"/> (in the caller's clock, <paramref name="now"/>). Returns the bytes discarded.
    /// </summary>
    public long DiscardIdle(long now, long idleTicks) => Discard(idleOnly: true, now, idleTicks);

    private long Discard(bool idleOnly, long now, long idleTicks)
    {
        // The portable layer's discard is a no-op: its memory goes back only when a whole reservation is freed.
        if (!_os.DiscardedPagesReadZero)
            return 0;
        lock (_lock)
        {
            if (_disposed)
                return 0;
            long bytes = 0;
            if (!idleOnly)
                bytes += Reknit(_small) + Reknit(_huge);
            bytes += DiscardFreeBlocks(_small, idleOnly, now, idleTicks) + DiscardFreeBlocks(_huge, idleOnly, now, idleTicks);
            if (!idleOnly)
            {
                // Empty slabs (one per class is kept to absorb churn) are discarded by explicit and pressure trims only:
                // a slab emptied and refilled between two idle ticks would be discarded and refaulted needlessly.
                foreach (Slab slab in _slabs)
                {
                    if (!slab.IsEmpty || slab.PagesDiscarded)
                        continue;
                    if (_os.Discard(slab.Reservation.AddressOf(slab.Offset), Slab.Bytes).IsSuccess)
                    {
                        slab.PagesDiscarded = true;
                        bytes += Slab.Bytes;
                    }
                }
            }
            BytesDiscarded += bytes;
            return bytes;
        }
    }

    /// <summary>
    /// Maps afresh, as one mapping, every reservation that holds no data (only free blocks and empty slabs) but is
    /// several kernel mappings by the model. Returns the bytes whose pages that discarded.
    /// </summary>
    /// <remarks>
    /// A reservation emptied after moves is pieces mapped again at different times. The kernel merges such pieces
    /// whenever their anon_vmas allow it, which the model cannot see: it counts them apart (it must never count
    /// fewer mappings than the kernel has), so after a trim it read up to 3× the kernel's count (6 against 2,
    /// MappingModelHonestyTests). One mmap over the whole range (the unmapped page on each side keeps it from
    /// merging with anything) makes it one mapping for both, gives the process back the mappings the pieces still
    /// cost, and discards the pages as madvise would. Explicit and pressure trims only, like empty slabs.
    /// </remarks>
    private long Reknit(Space space)
    {
        long bytes = 0;
        foreach (Reservation reservation in space.Reservations)
        {
            if (reservation.VmaCount <= 1 || !HoldsNoData(reservation, out List<Slab> emptySlabs) || reservation.IslandsAndHoles.Count > 0)
                continue;
            // A failed mmap leaves the old mappings in place, pages and all: the ordinary discard below handles them.
            if (!_os.ReplaceWithFreshPages(reservation.Base, (nuint)reservation.Size, reservation.HugePages).IsSuccess)
                continue;
            reservation.MarkFresh(0, reservation.Size);
            foreach (Slab slab in emptySlabs)
                slab.PagesDiscarded = true;
            reservation.DiscardedVersion = reservation.FreeVersion;
            reservation.NoteDiscarded();
            bytes += reservation.Size;
        }
        return bytes;
    }

    /// <summary>Whether every block of <paramref name="reservation"/> is free or an empty slab (listed in <paramref name="emptySlabs"/>).</summary>
    private bool HoldsNoData(Reservation reservation, out List<Slab> emptySlabs)
    {
        emptySlabs = new List<Slab>();
        long slabBytes = 0;
        foreach (Slab slab in _slabs)
        {
            if (slab.Reservation != reservation)
                continue;
            if (!slab.IsEmpty)
                return false;
            emptySlabs.Add(slab);
            slabBytes += reservation.BlockBytes(slab.Order);
        }
        return reservation.FreeBytes + slabBytes == reservation.Size;
    }

    private long DiscardFreeBlocks(Space space, bool idleOnly, long now, long idleTicks)
    {
        long bytes = 0;
        foreach (Reservation reservation in space.Reservations)
        {
            int version = reservation.FreeVersion;
            if (version == reservation.DiscardedVersion)
                continue;
            if (idleOnly)
            {
                if (reservation.IdleSeenVersion != version)
                {
                    // Something was freed since the last tick: the reservation is busy; start its idle clock now.
                    reservation.IdleSeenVersion = version;
                    reservation.IdleSince = now;
                    continue;
                }
                if (now - reservation.IdleSince < idleTicks)
                    continue;
            }
            bool all = true;
            foreach ((long offset, long length) in reservation.FreeBlocks())
            {
                // A failed madvise leaves the pages resident and the memory intact: retry on the next trim.
                if (_os.Discard(reservation.AddressOf(offset), (nuint)length).IsSuccess)
                    bytes += length;
                else
                    all = false;
            }
            if (all)
            {
                reservation.DiscardedVersion = version;
                reservation.NoteDiscarded();
            }
        }
        return bytes;
    }
}
