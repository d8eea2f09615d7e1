using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using NativeBuffers.Os;

namespace NativeBuffers.Arenas;

// The growth chain: everything that happens when a buffer is resized, in the order it is tried.
//   0. to resident   a huge buffer small beside resident memory a big buffer left in another reservation is copied
//                    there (growing where it is would write fresh pages): Space.ResidentRoomToGrowInto;
//   1. in place      the bigger block still fits where the buffer is (free buddies): no syscall, no copy;
//   2. remap fixed   mremap(MAYMOVE|FIXED) into a free block the arena owns; the vacated range is mapped again;
//   3. remap         plain mremap(MAYMOVE): the kernel picks the place (the buffer becomes a detached mapping);
//   4. copy          a new block and a memcpy.
// Paths 2 and 3 apply to blocks of at least RemapThresholdBytes (below it a copy is cheaper than the syscalls)
// and only while the mapping budget allows the VMAs a move adds. Every failure leaves the buffer where it was,
// contents intact, and gives back any address space it took; a failed path falls through to the next.
internal partial class Arena
{
    /// <summary>Where an allocation was before a move, for giving the vacated range back.</summary>
    private readonly record struct Placement(nint Address, long Capacity, Reservation? Reservation, long Offset, int Order)
    {
        public static Placement Of(Allocation a) => new(a.Address, a.Capacity, a.Reservation, a.Offset, a.Order);
    }

    /// <summary>
    /// Resizes <paramref name="allocation"/> (which the caller holds exclusively) to class <paramref name="newClass"/>.
    /// Returns the allocation that now holds the contents: the same record when it grew in place or its pages
    /// moved, a new one after a copy (the old one is then freed). The first min(old, new) bytes are preserved.
    /// Throws <see cref="InsufficientMemoryException"/> when every enabled path fails; the allocation is then untouched.
    /// With <paramref name="clearVacated"/>, memory the buffer leaves behind with its contents (after a copy, or
    /// the cut-off part of a shrink) is zeroed before another buffer can get it; moved pages leave nothing behind.
    /// With <paramref name="vacated"/> (guarded mode), what the buffer leaves behind is not freed but added there for
    /// the caller to quarantine and free later: the old record after a copy, and a new block record for a range that
    /// a move vacated and the arena mapped again; and a block shrinks by keeping all its pages, so no part of it is
    /// freed under a stale pointer. A range a move vacated that could not be mapped again stays unmapped (a stale
    /// write faults there anyway) and is not listed.
    /// <paramref name="outcome"/> receives what happened (the path taken, the moves the mapping budget declined),
    /// for the caller to report after the call: the arena raises no events, least of all under its lock.
    /// </summary>
    public Allocation Resize(Allocation allocation, int newClass, bool clearVacated, List<Allocation>? vacated, ref ResizeOutcome outcome)
    {
        if (IsDisposed)
            ThrowHelper.ThrowPoolDisposed();
        outcome.OldBytes = allocation.Capacity;
        Allocation result = allocation;
        if (newClass != allocation.SizeClass)
        {
            long newBytes = SizeClasses.SizeOf(newClass);
            result = newBytes < allocation.Capacity
                ? Shrink(allocation, newClass, clearVacated, vacated)
                : Grow(allocation, newClass, clearVacated, vacated, ref outcome);
        }
        outcome.NewBytes = result.Capacity;
        return result;
    }

    /// <summary>
    /// <see cref="Resize(Allocation, int, bool, List{Allocation}?, ref ResizeOutcome)"/> for a caller that reports
    /// nothing (tests, and arenas used alone).
    /// </summary>
    public Allocation Resize(Allocation allocation, int newClass, bool clearVacated, List<Allocation>? vacated = null)
    {
        ResizeOutcome ignored = default;
        return Resize(allocation, newClass, clearVacated, vacated, ref ignored);
    }

    private Allocation Grow(Allocation allocation, int newClass, bool clearVacated, List<Allocation>? vacated, ref ResizeOutcome outcome)
    {
        GrowthPaths paths = Settings.GrowthPaths;
        if ((paths & GrowthPaths.Copy) != 0 && TryTakeResidentRoom(allocation, newClass, out Allocation? room))
            return Grown(CopyInto(allocation, room, clearVacated, vacated), GrowthPaths.Copy, ref outcome);
        if ((paths & GrowthPaths.InPlace) != 0 && TryGrowInPlace(allocation, newClass))
            return Grown(allocation, GrowthPaths.InPlace, ref outcome);

        // A moved mapping keeps its source's page offset, and the kernel gives huge pages (and PMD-level moves)
        // only where offset and address agree modulo 2 MiB. A small-space block is at most 1 MiB aligned, so
        // moving it into the huge space would cost every later fault and move its huge pages: copy it instead
        // (at most 1 MiB, about the price of one syscall), and the huge block starts aligned for good.
        bool crossesIntoHuge = allocation.IsBlock && SpaceFor(newClass) == _huge && allocation.Reservation!.GranuleShift != HugeGranuleShift;
        bool movable = CanMovePages && allocation.State != AllocationState.Slot && !crossesIntoHuge && allocation.Capacity >= Settings.RemapThresholdBytes;
        if (movable && (paths & GrowthPaths.RemapFixed) != 0 && TryRemapFixed(allocation, newClass, vacated, ref outcome.MovesDeclinedByBudget))
            return Grown(allocation, GrowthPaths.RemapFixed, ref outcome);
        if (movable && (paths & GrowthPaths.Remap) != 0 && TryRemap(allocation, newClass, vacated, ref outcome.MovesDeclinedByBudget))
            return Grown(allocation, GrowthPaths.Remap, ref outcome);
        if ((paths & GrowthPaths.Copy) != 0)
            return Grown(CopyInto(allocation, newClass, clearVacated, vacated), GrowthPaths.Copy, ref outcome);

        ThrowHelper.ThrowOutOfMemory(
            $"No enabled growth path could grow a {allocation.Capacity}-byte buffer to {SizeClasses.SizeOf(newClass)} bytes " +
            $"(enabled: {paths}). Enable GrowthPaths.Copy, or check KernelMappings against MappingBudget in the pool statistics.");
        return allocation;
    }

    private static Allocation Grown(Allocation allocation, GrowthPaths path, ref ResizeOutcome outcome)
    {
        outcome.GrowthPath = path;
        return allocation;
    }

    // ---- 1. in place ----

    private bool TryGrowInPlace(Allocation allocation, int newClass)
    {
        // Only a fresh block can absorb its buddies: an island is its own VMA, and a block plus a neighbour
        // from another VMA could never be moved again. Blocks do not cross from the small to the huge space.
        if (allocation.State != AllocationState.FreshBlock || SpaceFor(newClass) != SpaceFor(allocation.SizeClass))
            return false;
        lock (_lock)
        {
            Reservation reservation = allocation.Reservation!;
            int newOrder = SpaceFor(newClass).OrderOf(SizeClasses.SizeOf(newClass));
            if (!reservation.TryGrowInPlace(allocation.Offset, allocation.Order, newOrder))
                return false;
            allocation.ResizeBlock(newOrder, newClass);
            GrowsInPlace++;
            return true;
        }
    }

    /// <summary>
    /// Takes a block for the buffer at the front of resident memory a big buffer left, when growing where it is would
    /// write fresh pages and the buffer is small beside that memory (<see cref="Space.ResidentRoomToGrowInto"/>): a
    /// buffer rented plain, placed apart from the block a plain rent spares, that then grows. Copied there, it goes on
    /// doubling in place over resident pages; grown where it was, every page it gained was a page fault.
    /// </summary>
    private bool TryTakeResidentRoom(Allocation allocation, int newClass, [NotNullWhen(true)] out Allocation? room)
    {
        room = null;
        if (!allocation.IsBlock || SpaceFor(allocation.SizeClass) != _huge || SpaceFor(newClass) != _huge)
            return false;
        lock (_lock)
        {
            int order = _huge.OrderOf(allocation.Capacity);
            int newOrder = _huge.OrderOf(SizeClasses.SizeOf(newClass));
            Reservation? into = _huge.ResidentRoomToGrowInto(allocation.Reservation!, order, newOrder);
            if (into is null || !into.TryAllocateAtLargest(newOrder, out long offset))
                return false;
            room = NewRecord();
            room.TakeBlock(into, offset, newOrder, newClass);
            return true;
        }
    }

    // ---- 2. remap fixed, into the arena's own address space ----

    private bool TryRemapFixed(Allocation allocation, int newClass, List<Allocation>? vacated, ref int declinedByBudget)
    {
        long newBytes = SizeClasses.SizeOf(newClass);
        Space space = SpaceFor(newClass);
        int order = space.OrderOf(newBytes);
        Reservation destination;
        long offset;
        bool stamp, stampSource;
        lock (_lock)
        {
            long reserveDeclines = DeclinedByMappingReserve;
            if (!TryPlaceIsland(space, order, newBytes, out destination, out offset))
            {
                if (DeclinedByMappingReserve != reserveDeclines)
                    return false; // the mapping reserve declined it, and counted that
                MovesDeclinedByBudget++;
                declinedByBudget++; // reported by the caller, after the call: never an event under the lock
                return false;
            }
            // Not in the huge space: there the stamp faults in a whole 2 MiB page (and may wait for compaction:
            // 5-30 ms measured), on the growth path of the largest buffers, only to keep the model's count tight.
            // Unstamped, the cut pieces are counted as separate mappings, which is high but never low.
            stamp = !destination.HugePages && destination.NeedsStamp(offset);
            stampSource = SourceNeedsStamp(allocation);
        }

        nint target = destination.AddressOf(offset);
        // The move is about to cut the destination's fresh mapping in two. Written now, that mapping has an anon_vma
        // the two pieces share, so they merge again when the island goes (Reservation.Split). One fault per identity.
        if (stamp)
            _os.Stamp(target);
        Placement source = Placement.Of(allocation);
        if (stampSource)
            _os.Stamp(source.Address);
        // A detached mapping (made by a plain mremap) moving into the huge space lacks VM_HUGEPAGE; advise the
        // island so its new pages fault in as huge pages too. (Small-space blocks never get here: they copy.)
        bool adviseHuge = destination.HugePages && !(source.Reservation?.HugePages ?? false);
        OsError error = _os.MoveInto(source.Address, (nuint)source.Capacity, target, (nuint)newBytes, adviseHuge);
        if (error.IsFailure)
        {
            // The destination may be gone: kernels before 6.x unmapped it before validating the source (EFAULT,
            // and ENOMEM from the later checks); 6.18 leaves it mapped (docs/design.md). Ask at once whether it is
            // still wholly mapped: that is the kernel having kept it, and asking before anything else leaves the
            // least time for another thread's mapping (a thread stack, say) to land in a hole and pass for ours.
            // Otherwise map it back, never over a neighbour (NOREPLACE): success is fresh pages, EEXIST means
            // something else took part of it, and any other failure leaves a hole that consolidation retries.
            bool survived = DestinationSurvived(target, newBytes);
            OsError filled = survived ? OsError.Success : _os.FillHole(target, (nuint)newBytes, destination.HugePages);
            lock (_lock)
            {
                MovesFailed++;
                if (!survived && filled.IsSuccess)
                    destination.MarkFresh(offset, newBytes);
                if (filled.IsSuccess)
                    destination.Free(offset, order);
                else
                    MarkVacated(destination, offset, order, filled);
            }
            return false;
        }
        GiveBackVacated(source, vacated, stampSource);
        lock (_lock)
        {
            if (stamp)
                destination.MarkStamped(offset);
            destination.MarkIsland(offset, newBytes);
            _detached.Remove(allocation);
            allocation.MoveToIsland(destination, offset, order, newClass);
            GrowsRemappedFixed++;
            NotePeak();
        }
        return true;
    }

    /// <summary>
    /// After a failed move whose destination could not be mapped back: whether the destination is still our
    /// reservation's, untouched. Usually it is, because the kernel refused before unmapping anything — the
    /// map-count check (ENOMEM), overlap (EINVAL), and since 6.x the source checks (EFAULT) all come first — and
    /// then treating it as vacated would lose the block for good: a later FillHole would meet our own pages,
    /// answer EEXIST, and mark them foreign, never to be used or unmapped again. So ask the kernel: wholly mapped
    /// means intact. Anything less means the kernel did unmap it (a hole of ours, or partly someone else's).
    /// The one case this cannot tell apart is another thread mapping exactly the whole gap in the microseconds
    /// between the kernel's unmap and our FillHole; a partial occupant is recognized and left alone.
    /// </summary>
    private bool DestinationSurvived(nint target, long bytes) => _os.IsWhollyMapped(target, (nuint)bytes) == true;

    /// <summary>
    /// Chooses where a moved buffer lands, cheapest in kernel mappings first: a free block that is a whole
    /// empty reservation (the island replaces its VMA: +0), else any free block (+1 at an edge, +2 in the
    /// middle), else a new reservation (+1). Declines when the budget would be exceeded even after consolidating.
    /// Memory that is probably resident is the last choice among existing blocks: the move frees the pages it
    /// lands on, which the next buffer rented there would have written without faults; an empty reservation
    /// holding them is not taken whole.
    /// </summary>
    private bool TryPlaceIsland(Space space, int order, long bytes, out Reservation destination, out long offset)
    {
        foreach (Reservation candidate in space.Reservations)
        {
            if (candidate.IsEmpty && candidate.Size == bytes && !candidate.MayHoldResidentFree && candidate.TryAllocate(order, out offset))
            {
                destination = candidate;
                return true;
            }
        }
        // The mapping reserve is checked for one more than the move adds for good: while it runs, the vacated
        // source splits its own mapping until it is mapped again.
        if (space.TryAllocate(order, residentFirst: false, out destination, out offset))
        {
            int added = destination.VmaCountWithIsland(offset, bytes) - destination.VmaCount;
            if (FitsBudget(added) && FitsReserveAfterConsolidating(added + 1))
            {
                NoteAdded(added);
                return true;
            }
            destination.Free(offset, order);
            return false;
        }
        if (!FitsBudget(1) || !FitsReserveAfterConsolidating(2) || space.Reserve(bytes, out destination).IsFailure)
        {
            destination = null!;
            offset = 0;
            return false;
        }
        NoteAdded(1);
        bool taken = destination.TryAllocate(order, out offset);
        Debug.Assert(taken);
        return true;
    }

    // ---- 3. plain remap, wherever the kernel likes ----

    private bool TryRemap(Allocation allocation, int newClass, List<Allocation>? vacated, ref int declinedByBudget)
    {
        long newBytes = SizeClasses.SizeOf(newClass);
        bool stampSource;
        lock (_lock)
        {
            if (!FitsBudget(1))
            {
                MovesDeclinedByBudget++;
                declinedByBudget++; // reported by the caller, after the call: never an event under the lock
                return false;
            }
            // One mapping for the moved buffer, and one while its vacated source splits its reservation.
            if (!FitsReserveAfterConsolidating(2))
                return false;
            NoteAdded(1);
            stampSource = SourceNeedsStamp(allocation);
        }
        Placement source = Placement.Of(allocation);
        if (stampSource)
            _os.Stamp(source.Address);
        OsError error = _os.Move(source.Address, (nuint)source.Capacity, (nuint)newBytes, out nint moved);
        if (error.IsFailure)
        {
            lock (_lock)
                MovesFailed++;
            return false;
        }
        // The kernel grows in place when the block ends its mapping and the next addresses are free: the block
        // then stays in its reservation as the anchor of the now longer mapping. Otherwise the pages left.
        bool left = moved != source.Address;
        if (left)
            GiveBackVacated(source, vacated, stampSource);
        lock (_lock)
        {
            allocation.Remapped(moved, newClass);
            _detached.Add(allocation);
            GrowsRemapped++;
            NotePeak();
        }
        return true;
    }

    /// <summary>
    /// Whether a move out of <paramref name="allocation"/>'s block would cut a fresh mapping whose identity is not
    /// stamped yet: the block is then written (its own first byte rewritten) before the move. Under the lock.
    /// </summary>
    private static bool SourceNeedsStamp(Allocation allocation) =>
        allocation.State == AllocationState.FreshBlock && allocation.Reservation!.NeedsStamp(allocation.Offset);

    /// <summary>
    /// After a successful move the source range is unmapped. If it was part of a reservation, map it again
    /// (never over someone else's mapping) and return its block, or hand it to <paramref name="vacated"/> as a
    /// record of its own (still taken); an island's run goes with it.
    /// </summary>
    private void GiveBackVacated(Placement source, List<Allocation>? vacated, bool stamped)
    {
        if (source.Reservation is not Reservation reservation)
            return; // a detached mapping: the kernel already took it away, nothing of ours is left there
        long bytes = reservation.BlockBytes(source.Order);
        OsError filled = _os.FillHole(reservation.AddressOf(source.Offset), (nuint)bytes, reservation.HugePages);
        lock (_lock)
        {
            if (stamped)
                reservation.MarkStamped(source.Offset); // before the model cuts the run around the vacated range
            if (filled.IsSuccess)
            {
                reservation.MarkFresh(source.Offset, bytes);
                if (vacated is null)
                    reservation.Free(source.Offset, source.Order);
                else
                    vacated.Add(VacatedBlock(reservation, source.Offset, source.Order));
            }
            else
            {
                MarkVacated(reservation, source.Offset, source.Order, filled);
            }
        }
    }

    /// <summary>A record for a vacated block that stays taken (a fresh block again), for the caller to free. Under the lock.</summary>
    private Allocation VacatedBlock(Reservation reservation, long offset, int order)
    {
        Allocation block = NewRecord();
        block.TakeBlock(reservation, offset, order, SizeClasses.ClassOf(reservation.BlockBytes(order)));
        return block;
    }

    /// <summary>Records a vacated block that could not be mapped again: ours to retry, or lost to another mapping.</summary>
    private void MarkVacated(Reservation reservation, long offset, int order, OsError fillError)
    {
        long bytes = reservation.BlockBytes(order);
        if (fillError == OsError.Exists)
        {
            reservation.MarkHole(offset, bytes, foreign: true);
            return;
        }
        reservation.MarkHole(offset, bytes, foreign: false);
        _holes.Add((reservation, offset, order));
    }

    // ---- 4. copy ----

    private Allocation CopyInto(Allocation allocation, int newClass, bool clearVacated, List<Allocation>? vacated) =>
        // A buffer that grows once usually grows again (an append doubling): place it where it can do so in place.
        CopyInto(allocation, Allocate(newClass, growing: true), clearVacated, vacated);

    private Allocation CopyInto(Allocation allocation, Allocation target, bool clearVacated, List<Allocation>? vacated)
    {
        long bytes = Math.Min(allocation.Capacity, target.Capacity);
        _os.Copy(allocation.Address, target.Address, (nuint)bytes);
        if (clearVacated)
            _os.Clear(allocation.Address, (nuint)allocation.Capacity);
        FreeOrHand(allocation, vacated);
        lock (_lock)
        {
            GrowsCopied++;
            BytesCopied += bytes;
        }
        return target;
    }

    // ---- shrinking ----

    private Allocation Shrink(Allocation allocation, int newClass, bool clearVacated, List<Allocation>? vacated)
    {
        long newBytes = SizeClasses.SizeOf(newClass);
        bool fresh = allocation.State == AllocationState.FreshBlock;
        // A block can only shrink in place to another block class: a small class is a slab slot, not a buddy
        // block (its "order" would be negative), so shrinking below a page copies into a slot.
        if (fresh && !SizeClasses.IsSmall(newClass) && SpaceFor(newClass) == SpaceFor(allocation.SizeClass))
        {
            if (vacated is not null)
                return allocation; // guarded: the cut-off part would be freed while stale pointers still reach it
            if (clearVacated)
                _os.Clear(allocation.Address + (nint)newBytes, (nuint)(allocation.Capacity - newBytes));
            lock (_lock)
            {
                int newOrder = SpaceFor(newClass).OrderOf(newBytes);
                allocation.Reservation!.ShrinkInPlace(allocation.Offset, allocation.Order, newOrder);
                // The cut-off part is free with its pages, as a freed block's are: growing back lands on them, so
                // the growth chain must not copy the buffer to resident memory elsewhere (Space.ResidentRoomToGrowInto).
                allocation.Reservation.NoteResidentFree(allocation.Order - 1);
                allocation.ResizeBlock(newOrder, newClass);
            }
            return allocation;
        }
        // An island or a detached mapping keeps its pages while what is kept is worth more than a copy.
        if (!fresh && allocation.State != AllocationState.Slot && newBytes >= Settings.RemapThresholdBytes)
            return allocation;
        // A slot, a small remainder, or a huge block becoming small: copy the little that is kept.
        Allocation target = Allocate(newClass);
        _os.Copy(allocation.Address, target.Address, (nuint)newBytes);
        if (clearVacated)
            _os.Clear(allocation.Address, (nuint)allocation.Capacity);
        FreeOrHand(allocation, vacated);
        lock (_lock)
            BytesCopied += newBytes;
        return target;
    }

    private void FreeOrHand(Allocation allocation, List<Allocation>? vacated)
    {
        if (vacated is null)
            Free(allocation);
        else
            vacated.Add(allocation);
    }
}
