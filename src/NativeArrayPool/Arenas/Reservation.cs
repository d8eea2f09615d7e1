using System.Diagnostics;
using System.Numerics;

namespace NativeBuffers.Arenas;

/// <summary>What a marked range of a reservation is, for the kernel-mapping model.</summary>
internal enum SegmentKind : byte
{
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
/// (part of the reservation's own mapping, never an island): islands are refreshed before they are freed.
/// That is what lets a free buddy be absorbed by in-place growth without creating a multi-VMA block.</para>
/// <para>Each order keeps a bitmap (the truth) and a stack of candidate indexes (a hint that may hold stale
/// entries, skipped when popped), so allocation and free are O(orders) and allocate nothing in steady state.</para>
/// <para>Kernel mappings: the reservation costs one VMA per maximal run of fresh pages plus one per island;
/// holes cost none but split runs. <see cref="VmaCount"/> is that model; tests check it against /proc/self/maps.</para>
/// Not thread-safe: the owning arena calls it under its lock.
/// </remarks>
[DebuggerDisplay("Reservation {Base,h} size={Size} free={FreeBytes} vmas={VmaCount}")]
internal sealed class Reservation
{
    private readonly ulong[][] _freeBits;
    private readonly long[][] _candidates;
    private readonly int[] _candidateCount;
    private readonly long[] _freeBlocks;
    private readonly List<(long Offset, long Length, SegmentKind Kind)> _segments = new();

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

    /// <summary>Idle trimming: the version last seen and when (timestamp ticks); written by the arena.</summary>
    public int IdleSeenVersion;
    public long IdleSince;
    public nint End => Base + (nint)Size;

    public long BlockBytes(int order) => 1L << (GranuleShift + order);
    public nint AddressOf(long offset) => Base + (nint)offset;
    public bool Contains(nint address) => address >= Base && address < End;

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

    public bool IsIsland(long offset)
    {
        foreach (var segment in _segments)
        {
            if (segment.Offset == offset && segment.Kind == SegmentKind.Island)
                return true;
        }
        return false;
    }

    public void AddSegment(long offset, long length, SegmentKind kind)
    {
        int at = 0;
        while (at < _segments.Count && _segments[at].Offset < offset)
            at++;
        _segments.Insert(at, (offset, length, kind));
        VmaCount = CountVmas(_segments);
    }

    public void RemoveSegment(long offset)
    {
        int at = _segments.FindIndex(s => s.Offset == offset);
        if (at >= 0)
            _segments.RemoveAt(at);
        VmaCount = CountVmas(_segments);
    }

    /// <summary>The VMA count if an island were placed at [offset, offset+length).</summary>
    public int VmaCountWithIsland(long offset, long length)
    {
        var trial = new List<(long, long, SegmentKind)>(_segments.Count + 1);
        bool placed = false;
        foreach (var segment in _segments)
        {
            if (!placed && segment.Offset > offset)
            {
                trial.Add((offset, length, SegmentKind.Island));
                placed = true;
            }
            trial.Add(segment);
        }
        if (!placed)
            trial.Add((offset, length, SegmentKind.Island));
        return CountVmas(trial);
    }

    public IReadOnlyList<(long Offset, long Length, SegmentKind Kind)> Segments => _segments;

    /// <summary>The ranges we may unmap when the reservation goes: all of it except ranges others mapped.</summary>
    public IEnumerable<(nint Start, long Length)> OwnedRanges()
    {
        long cursor = 0;
        foreach (var segment in _segments)
        {
            if (segment.Kind != SegmentKind.ForeignHole)
                continue;
            if (segment.Offset > cursor)
                yield return (AddressOf(cursor), segment.Offset - cursor);
            cursor = segment.Offset + segment.Length;
        }
        if (cursor < Size)
            yield return (AddressOf(cursor), Size - cursor);
    }

    private int CountVmas(List<(long Offset, long Length, SegmentKind Kind)> segments)
    {
        int count = 0;
        long cursor = 0;
        foreach (var segment in segments)
        {
            if (segment.Offset > cursor)
                count++; // a run of fresh pages before this segment
            if (segment.Kind == SegmentKind.Island)
                count++;
            cursor = segment.Offset + segment.Length;
        }
        if (cursor < Size)
            count++;
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
                if (IsIsland(start))
                    return $"free block at {start} is an island";
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
        for (int i = 1; i < _segments.Count; i++)
        {
            if (_segments[i].Offset < _segments[i - 1].Offset + _segments[i - 1].Length)
                return $"segments overlap at {_segments[i].Offset}";
        }
        return VmaCount == CountVmas(_segments) ? null : "VMA count out of date";
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
