using System.Diagnostics;
using System.Numerics;

namespace NativeBuffers.Arenas;

/// <summary>What a range of a reservation is, for the kernel-mapping model.</summary>
internal enum SegmentKind : byte
{
    /// <summary>The reservation's own pages, or pages mapped again after a move.</summary>
    Fresh,
    /// <summary>Pages moved in by mremap: the kernel keeps them as a VMA of their own.</summary>
    Island,
    /// <summary>A range we vacated and could not map again yet (we still own the address space).</summary>
    Hole,
    /// <summary>A vacated range somebody else mapped before we could: never used or unmapped by us again.</summary>
    ForeignHole,
}

/// <summary>
/// One reservation: a single kernel mapping of 2^n granules, managed as a binary buddy allocator.
/// </summary>
/// <remarks>
/// <para>Blocks are 2^order granules, aligned to their size relative to the base. Free blocks are eagerly
/// coalesced, so a free block's buddy is never free at the same order. Free blocks are always <i>fresh</i>
/// (part of the reservation's own mapping, never an island): islands are refreshed before they are freed, or,
/// filling the whole reservation, kept as its own pages (<see cref="KeepIsland"/>).
/// That is what lets a free buddy be absorbed by in-place growth without creating a multi-VMA block.</para>
/// <para>Each order keeps a bitmap (the truth) and a stack of candidate indexes (a hint that may hold stale
/// entries, skipped when popped), so allocation and free are O(orders) and allocate nothing in steady state.</para>
/// <para>Kernel mappings: see "the kernel-mapping model" below. <see cref="VmaCount"/> never counts fewer
/// VMAs than the kernel has in the reservation; tests check it against /proc/self/maps.</para>
/// Not thread-safe: the owning arena calls it under its lock.
/// </remarks>
[DebuggerDisplay("Reservation {Base,h} size={Size} free={FreeBytes} vmas={VmaCount}")]
internal sealed class Reservation
{
    private readonly ulong[][] _freeBits;
    private readonly long[][] _candidates;
    private readonly int[] _candidateCount;
    private readonly long[] _freeBlocks;

    public Reservation(nint baseAddress, long size, int granuleShift, bool hugePages)
    {
        Debug.Assert(BitOperations.IsPow2(size) && size >= 1L << granuleShift);
        Base = baseAddress;
        Size = size;
        GranuleShift = granuleShift;
        HugePages = hugePages;
        MaxOrder = BitOperations.Log2((ulong)size) - granuleShift;
        _freeBits = new ulong[MaxOrder + 1][];
        _candidates = new long[MaxOrder + 1][];
        _candidateCount = new int[MaxOrder + 1];
        _freeBlocks = new long[MaxOrder + 1];
        for (int order = 0; order <= MaxOrder; order++)
        {
            long blocks = size >> (granuleShift + order);
            _freeBits[order] = new ulong[(blocks + 63) / 64];
            _candidates[order] = new long[Math.Min(blocks, 16)];
        }
        MarkFree(MaxOrder, 0);
        FreeBytes = size;
        _runs.Add(new Run(0, size, SegmentKind.Fresh, 1));
        VmaCount = 1;
    }

    public nint Base { get; }
    public long Size { get; }
    public int GranuleShift { get; }
    public int MaxOrder { get; }
    public bool HugePages { get; }
    public long FreeBytes { get; private set; }
    public int VmaCount { get; private set; }
    public bool IsEmpty => FreeBytes == Size;

    /// <summary>Moves on with every <see cref="Free"/>: trimming skips a reservation with nothing freed since it last discarded.</summary>
    public int FreeVersion { get; private set; }

    /// <summary>The <see cref="FreeVersion"/> at the last discard of the free blocks' pages (written by the arena).</summary>
    public int DiscardedVersion;

    /// <summary>
    /// A hint, written by the arena: a block its tenant used was freed here since the free blocks' pages were last
    /// discarded, so some free memory is probably resident (the kernel is not asked). Allocation prefers such
    /// reservations, because writing resident pages costs no page faults; page moves avoid them, because a move
    /// frees whatever pages were at its destination.
    /// </summary>
    public bool MayHoldResidentFree;

    /// <summary>Idle trimming: the version last seen and when (timestamp ticks); written by the arena.</summary>
    public int IdleSeenVersion;
    public long IdleSince;
    public nint End => Base + (nint)Size;

    public long BlockBytes(int order) => 1L << (GranuleShift + order);
    public nint AddressOf(long offset) => Base + (nint)offset;
    public bool Contains(nint address) => address >= Base && address < End;

    /// <summary>The order of the largest free block; -1 when nothing is free.</summary>
    public int LargestFreeOrder
    {
        get
        {
            for (int order = MaxOrder; order >= 0; order--)
            {
                if (_freeBlocks[order] != 0)
                    return order;
            }
            return -1;
        }
    }

    /// <summary>Takes a free block of <paramref name="order"/>, splitting a larger one if needed.</summary>
    public bool TryAllocate(int order, out long offset)
    {
        offset = 0;
        if (order > MaxOrder)
            return false;
        int source = order;
        while (source <= MaxOrder && _freeBlocks[source] == 0)
            source++;
        if (source > MaxOrder)
            return false;

        long index = PopFree(source);
        // Split down: keep the left half, free the right half at each level.
        for (int level = source; level > order; level--)
        {
            index <<= 1;
            MarkFree(level - 1, index + 1);
        }
        offset = index << (GranuleShift + order);
        FreeBytes -= BlockBytes(order);
        return true;
    }

    /// <summary>Returns a block, coalescing with free buddies. The block must be fresh (not an island).</summary>
    public void Free(long offset, int order)
    {
        Debug.Assert(!IsIsland(offset));
        FreeBytes += BlockBytes(order);
        FreeVersion++;
        long index = offset >> (GranuleShift + order);
        while (order < MaxOrder && IsFree(order, index ^ 1))
        {
            ClearFree(order, index ^ 1);
            index >>= 1;
            order++;
        }
        MarkFree(order, index);
    }

    /// <summary>
    /// Grows an allocated block from <paramref name="order"/> to <paramref name="newOrder"/> without moving it,
    /// when it is aligned for the bigger size and every right-hand buddy on the way is free.
    /// </summary>
    public bool TryGrowInPlace(long offset, int order, int newOrder)
    {
        if (newOrder > MaxOrder || (offset & (BlockBytes(newOrder) - 1)) != 0 || IsIsland(offset))
            return false;
        long index = offset >> (GranuleShift + order);
        for (int level = order; level < newOrder; level++, index >>= 1)
        {
            if (!IsFree(level, index + 1))
                return false;
        }
        index = offset >> (GranuleShift + order);
        for (int level = order; level < newOrder; level++, index >>= 1)
            ClearFree(level, index + 1);
        FreeBytes -= BlockBytes(newOrder) - BlockBytes(order);
        return true;
    }

    /// <summary>Shrinks an allocated fresh block in place, freeing its right-hand parts.</summary>
    public void ShrinkInPlace(long offset, int order, int newOrder)
    {
        Debug.Assert(newOrder < order && !IsIsland(offset));
        for (int level = order - 1; level >= newOrder; level--)
            Free(offset + BlockBytes(level), level);
    }

    /// <summary>Every free block as (offset, length), for discarding their pages. Allocates; trimming only.</summary>
    public List<(long Offset, long Length)> FreeBlocks()
    {
        var blocks = new List<(long, long)>();
        for (int order = 0; order <= MaxOrder; order++)
        {
            ulong[] bits = _freeBits[order];
            for (int word = 0; word < bits.Length; word++)
            {
                for (ulong w = bits[word]; w != 0; w &= w - 1)
                {
                    long index = ((long)word << 6) + BitOperations.TrailingZeroCount(w);
                    blocks.Add((index << (GranuleShift + order), BlockBytes(order)));
                }
            }
        }
        return blocks;
    }

    // ---- the kernel-mapping model ----
    //
    // The reservation is a partition into runs; each run is fresh pages of one identity (the kernel's
    // anon_vma), an island, or a hole. The kernel merges neighbouring fresh runs only when their identities
    // agree, so the VMA count is the number of fresh and island runs after merging equal neighbours.
    // A range mapped again (restored after a move, or an island refreshed) has no identity yet and joins
    // its left fresh neighbour if there is one, else its right one, as the kernel's vma_merge does; with no
    // such neighbour it becomes a new identity (assumed touched later, so it will not merge afterwards).
    // A *relocated* identity is an island kept as the reservation's own pages (KeepIsland): its page offset
    // comes from where its pages were moved from, so a range mapped again beside it never merges with it,
    // and neither do its pieces once something between them goes.
    // The model may count more VMAs than the kernel has (untouched ranges merge more), never fewer.

    private readonly List<Run> _runs = new();
    private int _nextIdentity = 2;
    // Identities whose mapping is known to have an anon_vma, because the arena wrote into it (see Split).
    private readonly HashSet<int> _stamped = new();
    // Identities of kept islands and their pieces (see KeepIsland).
    private readonly HashSet<int> _relocated = new();

    private readonly record struct Run(long Offset, long Length, SegmentKind Kind, int Identity)
    {
        public long End => Offset + Length;
    }

    public bool IsIsland(long offset)
    {
        foreach (Run run in _runs)
        {
            if (run.Offset == offset)
                return run.Kind == SegmentKind.Island;
            if (run.Offset > offset)
                break;
        }
        return false;
    }

    /// <summary>Whether the fresh run holding <paramref name="offset"/> must be stamped before a move cuts it (see Split).</summary>
    public bool NeedsStamp(long offset)
    {
        foreach (Run run in _runs)
        {
            if (run.Offset <= offset && offset < run.End)
                return run.Kind == SegmentKind.Fresh && !_stamped.Contains(run.Identity);
        }
        return false;
    }

    /// <summary>The arena wrote into the fresh run holding <paramref name="offset"/>: its mapping has an anon_vma.</summary>
    public void MarkStamped(long offset)
    {
        foreach (Run run in _runs)
        {
            if (run.Offset <= offset && offset < run.End)
            {
                if (run.Kind == SegmentKind.Fresh)
                    _stamped.Add(run.Identity);
                return;
            }
        }
    }

    /// <summary>Pages moved in at [offset, offset+length): a VMA of their own.</summary>
    public void MarkIsland(long offset, long length) => Set(_runs, offset, length, SegmentKind.Island, _nextIdentity++);

    /// <summary>Whether the reservation is one island from end to end: a buffer's pages moved into the whole of it.</summary>
    public bool IsWholeIsland => _runs.Count == 1 && _runs[0].Kind == SegmentKind.Island;

    /// <summary>
    /// The island at [offset, offset+length) stays mapped, pages and all, as free memory of the reservation: one
    /// fresh run of a relocated identity (its page offset does not continue from its address, so nothing mapped
    /// beside it later merges with it). Its kernel mapping is unchanged, so the VMA count is too.
    /// </summary>
    public void KeepIsland(long offset, long length)
    {
        Debug.Assert(IsIsland(offset));
        int identity = _nextIdentity++;
        _relocated.Add(identity);
        Set(_runs, offset, length, SegmentKind.Fresh, identity);
    }

    /// <summary>[offset, offset+length) was mapped again with fresh pages: it merges with a fresh neighbour.</summary>
    public void MarkFresh(long offset, long length)
    {
        Set(_runs, offset, length, SegmentKind.Fresh, 0);
        int at = IndexAt(_runs, offset);
        // At offset 0 the kernel's first choice is the mapping before the reservation, which is not ours:
        // a fresh neighbour outside (another reservation) has a contiguous page offset, so the range merges
        // with it and inherits its anon_vma, and cannot merge with a touched run inside afterwards (measured:
        // a huge-page reservation showed [0,4) and [4,8) MiB apart after its first island was refreshed).
        // Likewise a hole on the left may hold someone else's mapping now, which the kernel would try first: only an
        // island on the left (a VMA whose page offset does not continue into the range) leaves the right as the choice.
        // A relocated run is such a VMA too, on either side: the range merges with neither.
        int identity =
            at > 0 && IsMergeableFresh(_runs[at - 1]) ? _runs[at - 1].Identity
            : at > 0 && IsForeignOffset(_runs[at - 1]) && at + 1 < _runs.Count && IsMergeableFresh(_runs[at + 1]) ? _runs[at + 1].Identity
            : _nextIdentity++;
        _runs[at] = _runs[at] with { Identity = identity };
        Normalize(_runs);
        VmaCount = CountVmas(_runs);
    }

    private bool IsMergeableFresh(Run run) => run.Kind == SegmentKind.Fresh && !_relocated.Contains(run.Identity);

    private bool IsForeignOffset(Run run) => run.Kind == SegmentKind.Island || (run.Kind == SegmentKind.Fresh && _relocated.Contains(run.Identity));

    /// <summary>[offset, offset+length) is unmapped: ours to map again later, or taken by another mapping (foreign).</summary>
    public void MarkHole(long offset, long length, bool foreign) =>
        Set(_runs, offset, length, foreign ? SegmentKind.ForeignHole : SegmentKind.Hole, 0);

    /// <summary>The VMA count if an island were placed at [offset, offset+length).</summary>
    public int VmaCountWithIsland(long offset, long length)
    {
        var trial = new List<Run>(_runs);
        Set(trial, offset, length, SegmentKind.Island, int.MaxValue, recount: false);
        return CountVmas(trial);
    }

    /// <summary>Islands and holes, for tests and diagnostics.</summary>
    public IReadOnlyList<(long Offset, long Length, SegmentKind Kind)> Segments =>
        _runs.Where(r => r.Kind != SegmentKind.Fresh).Select(r => (r.Offset, r.Length, r.Kind)).ToList();

    /// <summary>The runs as "kind identity @ offset + length", for failure messages. Allocates.</summary>
    public string DescribeRuns()
    {
        var text = new System.Text.StringBuilder();
        foreach (Run run in _runs)
        {
            text.Append(text.Length == 0 ? "" : " ").Append(run.Kind).Append(run.Identity).Append(_stamped.Contains(run.Identity) ? "*" : "")
                .Append(_relocated.Contains(run.Identity) ? "~" : "")
                .Append('@').Append(run.Offset.ToString("x")).Append('+').Append(run.Length.ToString("x"));
        }
        return text.ToString();
    }

    /// <summary>The ranges we may unmap when the reservation goes: all of it except ranges others mapped.</summary>
    public IEnumerable<(nint Start, long Length)> OwnedRanges()
    {
        foreach (Run run in _runs)
        {
            if (run.Kind != SegmentKind.ForeignHole)
                yield return (AddressOf(run.Offset), run.Length);
        }
    }

    private void Set(List<Run> runs, long offset, long length, SegmentKind kind, int identity, bool recount = true)
    {
        Split(runs, offset);
        Split(runs, offset + length);
        int first = IndexAt(runs, offset);
        int last = first;
        while (last < runs.Count && runs[last].End <= offset + length)
            last++;
        runs.RemoveRange(first, last - first);
        runs.Insert(first, new Run(offset, length, kind, identity));
        Normalize(runs);
        if (recount)
            VmaCount = CountVmas(runs);
    }

    // Cutting a fresh run gives the right-hand piece an identity of its own unless the identity is stamped. The
    // kernel splits a VMA without changing its anon_vma, but a VMA nobody has written to has none yet, and then each
    // piece gets its own when first written: pieces of one mapping may never merge again (KernelMergeTests shows
    // it). Whether the user wrote cannot be seen from here; the arena stamps an identity (rewrites a byte of the
    // block a move vacates or replaces) before the move cuts it, and pieces of a stamped identity share its anon_vma.
    // A piece of a relocated identity is relocated too: its page offset is the whole run's.
    private void Split(List<Run> runs, long at)
    {
        for (int i = 0; i < runs.Count; i++)
        {
            Run run = runs[i];
            if (run.Offset < at && at < run.End)
            {
                runs[i] = run with { Length = at - run.Offset };
                int identity = run.Kind == SegmentKind.Fresh && !_stamped.Contains(run.Identity) ? _nextIdentity++ : run.Identity;
                if (identity != run.Identity && _relocated.Contains(run.Identity))
                    _relocated.Add(identity);
                runs.Insert(i + 1, run with { Offset = at, Length = run.End - at, Identity = identity });
                return;
            }
        }
    }

    private static int IndexAt(List<Run> runs, long offset)
    {
        for (int i = 0; i < runs.Count; i++)
        {
            if (runs[i].Offset == offset)
                return i;
        }
        throw new InvalidOperationException($"no run starts at {offset}");
    }

    // Neighbouring fresh runs of one identity are one VMA; holes of the same kind are one hole.
    private static void Normalize(List<Run> runs)
    {
        for (int i = runs.Count - 1; i > 0; i--)
        {
            Run left = runs[i - 1], right = runs[i];
            bool sameFresh = left.Kind == SegmentKind.Fresh && right.Kind == SegmentKind.Fresh && left.Identity == right.Identity;
            bool sameHole = left.Kind == right.Kind && left.Kind is SegmentKind.Hole or SegmentKind.ForeignHole;
            if (sameFresh || sameHole)
            {
                runs[i - 1] = left with { Length = left.Length + right.Length };
                runs.RemoveAt(i);
            }
        }
    }

    private static int CountVmas(List<Run> runs)
    {
        int count = 0;
        foreach (Run run in runs)
        {
            if (run.Kind is SegmentKind.Fresh or SegmentKind.Island)
                count++;
        }
        return count;
    }

    // ---- invariants ----

    /// <summary>Checks the whole structure; property tests call it after every step. Returns null when valid, else what is wrong.</summary>
    public string? Validate()
    {
        long free = 0;
        var covered = new List<(long Start, long End)>();
        for (int order = 0; order <= MaxOrder; order++)
        {
            long count = 0;
            long blocks = Size >> (GranuleShift + order);
            for (long index = 0; index < blocks; index++)
            {
                if (!IsFree(order, index))
                    continue;
                count++;
                if (order < MaxOrder && IsFree(order, index ^ 1))
                    return $"buddies {index} and {index ^ 1} both free at order {order}: not coalesced";
                long start = index << (GranuleShift + order);
                covered.Add((start, start + BlockBytes(order)));
                foreach (Run run in _runs)
                {
                    if (run.Kind != SegmentKind.Fresh && run.Offset < start + BlockBytes(order) && start < run.End)
                        return $"free block at {start} overlaps a {run.Kind} at {run.Offset}";
                }
            }
            if (count != _freeBlocks[order])
                return $"order {order}: bitmap has {count} free blocks, counter says {_freeBlocks[order]}";
            free += count * BlockBytes(order);
        }
        if (free != FreeBytes)
            return $"free bytes {FreeBytes} but free blocks add up to {free}";
        covered.Sort();
        for (int i = 1; i < covered.Count; i++)
        {
            if (covered[i].Start < covered[i - 1].End)
                return $"free blocks overlap at {covered[i].Start}";
        }
        long cursor = 0;
        foreach (Run run in _runs)
        {
            if (run.Offset != cursor || run.Length <= 0)
                return $"runs do not partition the reservation at {cursor}";
            cursor = run.End;
        }
        if (cursor != Size)
            return "runs do not cover the reservation";
        return VmaCount == CountVmas(_runs) ? null : "VMA count out of date";
    }

    // ---- bitmap and candidate stacks ----

    private bool IsFree(int order, long index) => (_freeBits[order][index >> 6] & (1UL << (int)(index & 63))) != 0;

    private void MarkFree(int order, long index)
    {
        _freeBits[order][index >> 6] |= 1UL << (int)(index & 63);
        _freeBlocks[order]++;
        long[] stack = _candidates[order];
        if (_candidateCount[order] == stack.Length)
        {
            // Stale entries pile up when blocks leave a stack by coalescing; rebuild from the bitmap before growing.
            if (_candidateCount[order] > 2 * _freeBlocks[order])
                RebuildCandidates(order);
            if (_candidateCount[order] == stack.Length)
                Array.Resize(ref _candidates[order], stack.Length * 2);
        }
        _candidates[order][_candidateCount[order]++] = index;
    }

    private void ClearFree(int order, long index)
    {
        _freeBits[order][index >> 6] &= ~(1UL << (int)(index & 63));
        _freeBlocks[order]--;
    }

    private long PopFree(int order)
    {
        while (true)
        {
            long index = _candidates[order][--_candidateCount[order]];
            if (IsFree(order, index))
            {
                ClearFree(order, index);
                return index;
            }
        }
    }

    private void RebuildCandidates(int order)
    {
        int count = 0;
        ulong[] bits = _freeBits[order];
        long[] stack = _candidates[order];
        // Push high indexes first so low addresses come out first: it keeps reservations compact.
        for (int word = bits.Length - 1; word >= 0; word--)
        {
            for (ulong w = bits[word]; w != 0; w &= w - 1)
            {
                if (count == stack.Length)
                    Array.Resize(ref stack, stack.Length * 2);
                stack[count++] = ((long)word << 6) + BitOperations.TrailingZeroCount(w);
            }
        }
        _candidates[order] = stack;
        _candidateCount[order] = count;
    }
}
