using System.Diagnostics;
using NativeBuffers.Os;

namespace NativeBuffers.Arenas;

/// <summary>
/// The arena: all native memory of one pool (the shared pools share one).
/// </summary>
/// <remarks>
/// <para>Glossary.
/// <b>OS page</b>: the kernel's 4 KiB page. <b>Reservation</b>: one mapping the arena made, on Kuszmaul's
/// schedule. <b>Granule</b>: the smallest block of a space (4 KiB small, 2 MiB huge). <b>Block</b>: a buddy block
/// of 2^order granules. <b>Slab</b>: a 64 KiB block cut into slots of one small class. <b>Size class</b>: see
/// <see cref="SizeClasses"/>. <b>Allocation</b>: the record of one piece handed out (slot, block, or detached
/// mapping; its states are tabled there). <b>Island</b>: a block whose pages were moved in by mremap and so form their own kernel mapping.
/// <b>Hole</b>: a vacated range not yet mapped again. <b>Lease</b>: the pool's handle on an allocation.
/// Every term, with where it lives: docs/glossary.md.</para>
/// <para>Invariants: free blocks are fresh (never islands); every live allocation's range is disjoint from every
/// other's; the kernel-mapping model (<see cref="KernelMappings"/>) counts one per fresh run and one per island
/// in every reservation, plus one per detached mapping, plus the two that guarded mode charges for each range it
/// protects (<see cref="TryTakeGuardMappings"/>).</para>
/// <para>Thread-safety: every public member is thread-safe. Metadata changes under one lock; system calls that
/// move or copy memory run outside it, on ranges that the caller owns exclusively for that time.</para>
/// <para>Not sealed only so that the pooling layer can attach its pool to the arenas it creates (<c>PoolArena</c>);
/// the arena knows nothing of pools and has no virtual members.</para>
/// </remarks>
internal partial class Arena : IDisposable
{
    private const int SmallGranuleShift = 12;
    private const int HugeGranuleShift = 21;

    private readonly Lock _lock = new();
    private readonly VirtualMemory _os;
    private readonly Space _small;
    private readonly Space _huge;
    private readonly int _slabOrder;
    private readonly List<Slab>[] _partialSlabs = new List<Slab>[SizeClasses.PageClass];
    private readonly Stack<Allocation> _spareRecords = new();
    private readonly List<Allocation> _blockRecords = new();
    private readonly HashSet<Slab> _slabs = new();
    private readonly HashSet<Allocation> _detached = new();
    private readonly List<(Reservation Reservation, long Offset, int Order)> _holes = new();
    private readonly List<Allocation> _unrefreshedIslands = new();
    private int _guardMappings;
    private bool _disposed;

    public Arena(ArenaSettings settings)
    {
        Settings = settings;
        _os = settings.Os;
        CanMovePages = _os.CanMovePages && _os.PageSize <= SizeClasses.PageSize;
        _maxMapCount = _os.MaxMapCount;
        _addressSpaceLimit = _os.AddressSpaceLimit;
        _small = new Space(_os, SmallGranuleShift, hugePages: false, settings.MinimumReservationBytes, settings.ReservationsPerSize);
        _huge = new Space(_os, HugeGranuleShift, settings.HugePages, settings.MinimumReservationBytes, settings.ReservationsPerSize) { RoomFirst = true };
        _slabOrder = _small.OrderOf(Slab.Bytes);
        for (int i = 0; i < _partialSlabs.Length; i++)
            _partialSlabs[i] = new List<Slab>();
    }

    public ArenaSettings Settings { get; }

    public VirtualMemory Os => _os;

    /// <summary>Whether growth may move pages (Linux with 4 KiB pages).</summary>
    public bool CanMovePages { get; }

    public bool IsDisposed => Volatile.Read(ref _disposed);

    // Counters: written under the lock, read without it (torn reads are impossible for aligned longs on 64-bit).
    public long GrowsInPlace;
    public long GrowsRemappedFixed;
    public long GrowsRemapped;
    public long GrowsCopied;
    public long BytesCopied;
    public long MovesDeclinedByBudget;
    public long MovesFailed;
    /// <summary>Returned islands kept mapped, with their pages, as free memory of their reservation (<see cref="TryKeepIsland"/>).</summary>
    public long IslandsKept;
    public long PeakKernelMappings;

    /// <summary>Kernel mappings the arena owns by its model: fresh runs and islands of every reservation, detached mappings, and guarded mode's protected ranges.</summary>
    public int KernelMappings
    {
        get
        {
            lock (_lock)
                return CountKernelMappings();
        }
    }

    public long ReservedBytes
    {
        get
        {
            lock (_lock)
                return ReservedBytesLocked();
        }
    }

    private long ReservedBytesLocked() =>
        _small.ReservedBytes + _huge.ReservedBytes + _detached.Sum(d => d.Capacity - (d.IsAnchored ? d.AnchorBytes : 0));

    public int ReservationCount
    {
        get
        {
            lock (_lock)
                return _small.Reservations.Count + _huge.Reservations.Count;
        }
    }

    public int DetachedCount
    {
        get
        {
            lock (_lock)
                return _detached.Count;
        }
    }

    // ---------------- allocate and free ----------------

    /// <summary>Hands out memory of class <paramref name="sizeClass"/>. Throws <see cref="InsufficientMemoryException"/> when no mapping can be made.</summary>
    public Allocation Allocate(int sizeClass) => Allocate(sizeClass, growing: false);

    /// <summary>
    /// <see cref="Allocate(int)"/>; with <paramref name="growing"/>, for a buffer that is growing by a copy, placed
    /// where it can go on growing in place (<see cref="Space.TryAllocate"/>).
    /// </summary>
    private Allocation Allocate(int sizeClass, bool growing)
    {
        lock (_lock)
        {
            if (_disposed)
                ThrowHelper.ThrowPoolDisposed();
            return SizeClasses.IsSmall(sizeClass) ? TakeSlot(sizeClass) : TakeBlock(sizeClass, growing);
        }
    }

    /// <summary>
    /// Takes back memory that is no longer rented. The caller has already retired the lease. After disposal it does
    /// nothing: the memory went with the arena, and its range may already be another mapping's.
    /// </summary>
    public void Free(Allocation allocation)
    {
        if (IsDisposed)
            return;
        switch (allocation.State)
        {
            case AllocationState.Slot:
                lock (_lock)
                    PutSlot(allocation);
                break;
            case AllocationState.FreshBlock:
            case AllocationState.Island:
                FreeBlock(allocation);
                break;
            case AllocationState.Detached:
            case AllocationState.Anchored:
                FreeDetached(allocation);
                break;
            default:
                Debug.Fail($"freeing a {allocation.State} record");
                break;
        }
    }

    private Allocation TakeSlot(int sizeClass)
    {
        List<Slab> partial = _partialSlabs[sizeClass];
        Slab slab;
        if (partial.Count == 0)
        {
            (Reservation reservation, long offset) = TakeBlockSpace(_small, _slabOrder, Slab.Bytes);
            slab = new Slab(reservation, offset, _slabOrder, sizeClass);
            _slabs.Add(slab);
            AddPartial(slab);
        }
        else
        {
            slab = partial[^1];
        }
        Allocation allocation = slab.Take(this);
        if (slab.IsFull)
            RemovePartial(slab);
        return allocation;
    }

    private void PutSlot(Allocation allocation)
    {
        Slab slab = allocation.Slab!;
        bool wasFull = slab.IsFull;
        slab.Put(allocation);
        if (wasFull)
            AddPartial(slab);
        // Keep one empty slab per class to absorb churn; give further empty ones back to the small space.
        if (slab.IsEmpty && _partialSlabs[slab.SizeClass].Count > 1)
        {
            RemovePartial(slab);
            _slabs.Remove(slab);
            slab.Reservation.Free(slab.Offset, slab.Order);
            if (!slab.PagesDiscarded)
                slab.Reservation.NoteResidentFree(slab.Order);
        }
    }

    private void AddPartial(Slab slab)
    {
        List<Slab> list = _partialSlabs[slab.SizeClass];
        slab.PartialIndex = list.Count;
        list.Add(slab);
    }

    private void RemovePartial(Slab slab)
    {
        List<Slab> list = _partialSlabs[slab.SizeClass];
        Slab last = list[^1];
        list[slab.PartialIndex] = last;
        last.PartialIndex = slab.PartialIndex;
        list.RemoveAt(list.Count - 1);
        slab.PartialIndex = -1;
    }

    private Allocation TakeBlock(int sizeClass, bool growing)
    {
        long bytes = SizeClasses.SizeOf(sizeClass);
        Space space = SpaceFor(sizeClass);
        (Reservation reservation, long offset) = TakeBlockSpace(space, space.OrderOf(bytes), bytes, growing);
        Allocation allocation = NewRecord();
        allocation.TakeBlock(reservation, offset, space.OrderOf(bytes), sizeClass);
        return allocation;
    }

    /// <summary>
    /// A free block of <paramref name="order"/> from <paramref name="space"/>, reserving more address space if needed.
    /// Reservations that probably hold resident free memory come first: the tenant writes its block, and resident
    /// pages take no faults (a growing buffer that starts there grows in place over the pages the last one left).
    /// A plain rent does not split a resident block far larger than itself, where the next big buffer would grow
    /// without faults, while new space is to be had within the pool's mapping budget and without straining the
    /// process's mappings (<see cref="Space.MaxResidentSplitShift"/>).
    /// </summary>
    private (Reservation, long) TakeBlockSpace(Space space, int order, long bytes, bool growing = false)
    {
        if (space.TryAllocate(order, residentFirst: true, out Reservation reservation, out long offset, growing, spareLargeResident: true))
            return (reservation, offset);
        if (space.HasRoomFor(order))
        {
            // Only the spared block has room. The new reservation is not needed, so it keeps within the pool's budget
            // (which yields only to reservations a rent needs) as well as the process's reserve; without a mapping to
            // spare, or address space, split the block after all: no consolidation (it could unmap the very block
            // being spared) and no refusal counted, as the rent succeeds.
            if (CountKernelMappings() >= Settings.MappingBudget || !FitsReserve(1) || space.Reserve(bytes, out reservation).IsFailure)
            {
                bool split = space.TryAllocate(order, residentFirst: true, out reservation, out offset, growing);
                Debug.Assert(split);
                return (reservation, offset);
            }
        }
        else
        {
            reservation = ReserveOrThrow(space, bytes);
        }
        NoteAdded(1);
        NotePeak();
        bool taken = reservation.TryAllocate(order, out offset);
        Debug.Assert(taken);
        return (reservation, offset);
    }

    /// <summary>Maps the space's next reservation for <paramref name="bytes"/>, consolidating once if that is what stands in the way; throws when it cannot.</summary>
    private Reservation ReserveOrThrow(Space space, long bytes)
    {
        if (!FitsReserveAfterConsolidating(1))
            ThrowHelper.ThrowOutOfMemory(DescribeReserveRefusal(bytes));
        OsError error = space.Reserve(bytes, out Reservation reservation);
        if (error.IsFailure)
        {
            // Empty reservations and holes may be all that stands between us and the limit: consolidate once.
            Consolidate();
            error = space.Reserve(bytes, out reservation);
            if (error.IsFailure)
                ThrowHelper.ThrowOutOfMemory(DescribeMappingFailure(bytes, error));
        }
        return reservation;
    }

    private void FreeBlock(Allocation allocation)
    {
        if (allocation.IsIsland && TryKeepIsland(allocation))
            return;
        if (allocation.IsIsland)
        {
            // Fresh pages in place of the island merge back into the reservation's mapping: one VMA fewer or two.
            OsError error = _os.ReplaceWithFreshPages(allocation.Address, (nuint)allocation.Capacity, allocation.Reservation!.HugePages);
            lock (_lock)
            {
                if (error.IsFailure)
                {
                    // Still a valid mapping of ours; keep it out of the free lists until a refresh succeeds.
                    _unrefreshedIslands.Add(allocation);
                    return;
                }
                allocation.Reservation.MarkFresh(allocation.Offset, allocation.Capacity);
                allocation.RefreshIsland();
                allocation.Reservation.Free(allocation.Offset, allocation.Order);
                Recycle(allocation);
            }
            return;
        }
        lock (_lock)
        {
            allocation.Reservation!.Free(allocation.Offset, allocation.Order);
            allocation.Reservation.NoteResidentFree(allocation.Order);
            Recycle(allocation);
        }
    }

    /// <summary>
    /// Frees an island that fills its whole reservation without mapping it again: its pages stay resident for the
    /// next buffer, which then grows into them with no page faults (a growing buffer's last move lands in a whole
    /// reservation of its size, so this is where appends end). The island is the reservation's only mapping, so a
    /// block anywhere in it is one VMA and may grow in place, as in a fresh reservation. An island in part of a
    /// reservation is mapped again fresh instead (<see cref="FreeBlock"/>): kept, it would be a VMA of its own
    /// inside the free space, and a block grown in place across its edge could never be moved again. Trimming
    /// discards the kept pages like any free memory's. False, doing nothing, for any other island.
    /// </summary>
    private bool TryKeepIsland(Allocation allocation)
    {
        lock (_lock)
        {
            Reservation reservation = allocation.Reservation!;
            if (!reservation.IsWholeIsland)
                return false;
            reservation.KeepIsland(allocation.Offset, allocation.Capacity);
            allocation.KeepIsland();
            reservation.Free(allocation.Offset, allocation.Order);
            reservation.NoteResidentFree(allocation.Order);
            Recycle(allocation);
            IslandsKept++;
            return true;
        }
    }

    private void FreeDetached(Allocation allocation)
    {
        if (allocation.IsAnchored)
        {
            // The kernel grew the anchor block past the reservation's end; cut the tail off, then free the anchor.
            long anchor = allocation.AnchorBytes;
            OsError cut = _os.Release(allocation.Address + (nint)anchor, (nuint)(allocation.Capacity - anchor));
            // A failed munmap leaves the tail ours and mapped. Forgetting it (as this did) leaked it for good:
            // nothing else knows the tail exists. Keep the whole allocation detached and counted, so Dispose
            // unmaps the tail (and, with the reservation, the anchor), as for any detached mapping.
            if (cut.IsFailure)
                return;
            lock (_lock)
            {
                _detached.Remove(allocation);
                allocation.CutToAnchor();
            }
            FreeBlock(allocation);
            return;
        }
        OsError error = _os.Release(allocation.Address, (nuint)allocation.Capacity);
        lock (_lock)
        {
            // A failed munmap leaves the mapping ours and intact; it stays counted until Dispose retries.
            if (error.IsSuccess)
            {
                _detached.Remove(allocation);
                Recycle(allocation);
            }
        }
    }

    private Allocation NewRecord()
    {
        if (_spareRecords.TryPop(out Allocation? record))
            return record;
        record = new Allocation(this);
        _blockRecords.Add(record);
        return record;
    }

    private void Recycle(Allocation allocation)
    {
        allocation.Recycle();
        _spareRecords.Push(allocation);
    }

    private Space SpaceFor(int sizeClass) => SizeClasses.IsHuge(sizeClass) ? _huge : _small;

    // ---------------- the mapping budget ----------------

    private int CountKernelMappings()
    {
        int count = 0;
        foreach (Reservation r in _small.Reservations)
            count += r.VmaCount;
        foreach (Reservation r in _huge.Reservations)
            count += r.VmaCount;
        foreach (Allocation d in _detached)
        {
            if (!d.IsAnchored)
                count++;
        }
        return count + _small.PendingRelease.Count + _huge.PendingRelease.Count + _guardMappings;
    }

    /// <summary>
    /// Takes room for <paramref name="count"/> kernel mappings that guarded mode is about to add by protecting part
    /// of a reservation (mprotect splits its VMA: up to two more). False, taking nothing, when the guard already
    /// holds <paramref name="limit"/> or the pool's budget would be exceeded even after consolidating: the guard
    /// then poisons instead. Counted in <see cref="KernelMappings"/>, so moves see the room the guard uses.
    /// </summary>
    public bool TryTakeGuardMappings(int count, int limit)
    {
        lock (_lock)
        {
            if (_disposed || _guardMappings + count > limit || !FitsBudget(count))
                return false;
            _guardMappings += count;
            NotePeak();
            return true;
        }
    }

    /// <summary>Gives back room taken by <see cref="TryTakeGuardMappings"/> once the range is accessible again.</summary>
    public void ReturnGuardMappings(int count)
    {
        lock (_lock)
            _guardMappings -= count;
    }

    private void NotePeak()
    {
        int now = CountKernelMappings();
        if (now > PeakKernelMappings)
            PeakKernelMappings = now;
    }

    /// <summary>Whether adding <paramref name="added"/> mappings stays within the budget, consolidating first if it would not.</summary>
    private bool FitsBudget(int added)
    {
        if (added <= 0 || CountKernelMappings() + added <= Settings.MappingBudget)
            return true;
        Consolidate();
        return CountKernelMappings() + added <= Settings.MappingBudget;
    }

    /// <summary>
    /// Gives back what costs mappings without holding data: maps holes again, refreshes islands whose refresh
    /// failed, and unmaps empty reservations. Called under the lock, on the rare paths that need room.
    /// </summary>
    private void Consolidate()
    {
        for (int i = _holes.Count - 1; i >= 0; i--)
        {
            (Reservation reservation, long offset, int order) = _holes[i];
            long bytes = reservation.BlockBytes(order);
            OsError error = _os.FillHole(reservation.AddressOf(offset), (nuint)bytes, reservation.HugePages);
            if (error.IsSuccess)
            {
                reservation.MarkFresh(offset, bytes);
                reservation.Free(offset, order);
                _holes.RemoveAt(i);
            }
            else if (error == OsError.Exists)
            {
                reservation.MarkHole(offset, bytes, foreign: true);
                _holes.RemoveAt(i);
            }
        }
        for (int i = _unrefreshedIslands.Count - 1; i >= 0; i--)
        {
            Allocation island = _unrefreshedIslands[i];
            if (_os.ReplaceWithFreshPages(island.Address, (nuint)island.Capacity, island.Reservation!.HugePages).IsSuccess)
            {
                island.Reservation.MarkFresh(island.Offset, island.Capacity);
                island.RefreshIsland();
                island.Reservation.Free(island.Offset, island.Order);
                _unrefreshedIslands.RemoveAt(i);
                Recycle(island);
            }
        }
        ReleaseEmptyReservations(_small);
        ReleaseEmptyReservations(_huge);
    }

    private void ReleaseEmptyReservations(Space space)
    {
        space.RetryPendingReleases();
        for (int i = space.Reservations.Count - 1; i >= 0; i--)
        {
            Reservation reservation = space.Reservations[i];
            if (reservation.IsEmpty)
                space.Release(reservation);
        }
    }

    /// <summary>Unmaps reservations that hold nothing and maps holes again. Returns the bytes of address space given back.</summary>
    public long ReleaseUnused()
    {
        lock (_lock)
        {
            long before = _small.ReservedBytes + _huge.ReservedBytes;
            Consolidate();
            return before - (_small.ReservedBytes + _huge.ReservedBytes);
        }
    }

    // Read once: the failure message below is built when the process may be at vm.max_map_count, where reading a
    // file (or the tens of thousands of lines of /proc/self/maps) needs native memory the runtime cannot map, and
    // the process dies instead of throwing (seen in the map-count exhaustion test, NativeArrayPool.StressHost).
    private readonly long _maxMapCount;
    private readonly long _addressSpaceLimit;

    private string DescribeMappingFailure(long bytes, OsError error)
    {
        string addressSpace = _addressSpaceLimit >= 0
            ? $"the process's address space is limited to {_addressSpaceLimit} bytes (RLIMIT_AS, ulimit -v) and the pool has {ReservedBytesLocked()} of them mapped: raise the limit, or return and Trim buffers"
            : "otherwise it is out of address space or memory";
        return $"The pool could not map {bytes} bytes of address space ({error}). " +
               $"The kernel refuses new mappings when the process has vm.max_map_count{(_maxMapCount >= 0 ? $" = {_maxMapCount}" : "")} of them; " +
               $"the pool owns {CountKernelMappings()} of them (budget {Settings.MappingBudget}), count the rest in /proc/<pid>/maps. " +
               $"If the process is at vm.max_map_count, release mappings or raise the limit (sysctl vm.max_map_count); {addressSpace}.";
    }

    // ---------------- checks and disposal ----------------

    /// <summary>Checks every reservation's structure and the detached set; null when valid. Property tests call it after every step.</summary>
    public string? Validate()
    {
        lock (_lock)
        {
            foreach (Reservation r in _small.Reservations.Concat(_huge.Reservations))
            {
                if (r.Validate() is string problem)
                    return $"reservation at {r.Base:x}: {problem}";
            }
            foreach (Allocation d in _detached)
            {
                if (!d.IsDetached)
                    return $"a {d.State} record is in the detached set";
            }
            foreach (Allocation record in RecordsLocked())
            {
                if (record.Check() is string problem)
                    return $"record at {record.Address:x}: {problem}";
                // After disposal the set keeps only orphans, while the other records keep their last state.
                if (!_disposed && record.IsDetached && !_detached.Contains(record))
                    return $"a {record.State} record is missing from the detached set";
            }
            return null;
        }
    }

    /// <summary>The address ranges the arena has mapped: reservations and detached mappings (for counting VMAs in /proc/self/maps).</summary>
    public List<(nint Start, nint End)> MappedRanges()
    {
        lock (_lock)
        {
            var ranges = new List<(nint, nint)>();
            foreach (Reservation r in _small.Reservations.Concat(_huge.Reservations))
                ranges.Add((r.Base, r.End));
            foreach (Allocation d in _detached)
                ranges.Add((d.Address, d.Address + (nint)d.Capacity));
            foreach ((nint start, long length) in _small.PendingRelease.Concat(_huge.PendingRelease))
                ranges.Add((start, start + (nint)length));
            return ranges;
        }
    }

    /// <summary>A snapshot of the reservations of both spaces (tests inspect their islands and holes).</summary>
    public List<Reservation> ReservationsSnapshot()
    {
        lock (_lock)
            return _small.Reservations.Concat(_huge.Reservations).ToList();
    }

    /// <summary>Every allocation record the arena made (tests inspect generations and kinds).</summary>
    public IEnumerable<Allocation> AllRecords()
    {
        lock (_lock)
            return RecordsLocked().ToList();
    }

    private IEnumerable<Allocation> RecordsLocked() => _blockRecords.Concat(_slabs.SelectMany(slab => slab.Records));

    // Orphans: allocations still leased when the arena was disposed. Their memory stays mapped until each lease
    // ends (ReleaseOrphan), so code already inside an operation on them (a collection's write, a caller's span)
    // never faults; everything else is unmapped at disposal. Counted per reservation that holds them.
    private readonly Dictionary<Reservation, int> _orphansIn = new();

    /// <summary>
    /// Unmaps everything but the memory of leases still out. <paramref name="endLease"/> is called under the arena
    /// lock for every record: it ends the record's lease if it has one and returns true, and the record becomes an
    /// orphan whose memory stays mapped until <see cref="ReleaseOrphan"/>. Calling it again does nothing.
    /// </summary>
    public void Dispose(Func<Allocation, bool> endLease)
    {
        lock (_lock)
        {
            if (_disposed)
                return;
            Volatile.Write(ref _disposed, true);
            foreach (Allocation record in RecordsLocked())
            {
                if (!endLease(record))
                    continue;
                record.MarkOrphan();
                if (ReservationOf(record) is Reservation holder)
                    _orphansIn[holder] = _orphansIn.GetValueOrDefault(holder) + 1;
            }
            foreach (Allocation d in _detached)
            {
                if (!d.IsOrphan)
                    ReleaseDetachedPart(d);
            }
            _detached.RemoveWhere(d => !d.IsOrphan);
            foreach (Space space in new[] { _small, _huge })
            {
                for (int i = space.Reservations.Count - 1; i >= 0; i--)
                {
                    if (!_orphansIn.ContainsKey(space.Reservations[i]))
                        space.Release(space.Reservations[i]);
                }
                space.RetryPendingReleases();
            }
        }
    }

    /// <summary>Unmaps everything; leases still out lose their memory. For arenas whose records carry no leases (tests).</summary>
    public void Dispose() => Dispose(static _ => false);

    /// <summary>
    /// Ends an orphan: the lease with <paramref name="leaseGeneration"/> was out when the arena was disposed and has
    /// now ended, so its memory (and its reservation, once no other orphan holds it) is unmapped. False when the
    /// record is no orphan of that lease (it ended before, or this is a stale lease).
    /// </summary>
    public bool ReleaseOrphan(Allocation record, int leaseGeneration)
    {
        lock (_lock)
        {
            if (!record.IsOrphan || Volatile.Read(ref record.Generation) != leaseGeneration + 1)
                return false;
            record.EndOrphan();
            if (record.IsDetached)
            {
                ReleaseDetachedPart(record);
                _detached.Remove(record);
            }
            if (ReservationOf(record) is Reservation holder && --_orphansIn[holder] == 0)
            {
                _orphansIn.Remove(holder);
                Space space = holder.GranuleShift == HugeGranuleShift ? _huge : _small;
                space.Release(holder);
                space.RetryPendingReleases();
            }
            return true;
        }
    }

    private static Reservation? ReservationOf(Allocation record) => record.State switch
    {
        AllocationState.Slot => record.Slab!.Reservation,
        _ => record.Reservation, // a block's, or the anchor's of an anchored allocation (null when detached)
    };

    /// <summary>Unmaps a detached allocation's own mapping: all of it, or the part past its anchor block.</summary>
    private void ReleaseDetachedPart(Allocation d)
    {
        long anchor = d.IsAnchored ? d.AnchorBytes : 0;
        _os.Release(d.Address + (nint)anchor, (nuint)(d.Capacity - anchor));
    }
}
