using System.Diagnostics;
using System.Numerics;

namespace NativeBuffers.Arenas;

/// <summary>
/// The blocks of one reservation as a binary buddy allocator: which blocks of 2^order granules are free. It knows
/// offsets only, never addresses or kernel mappings (<see cref="MappingModel"/> keeps those).
/// </summary>
/// <remarks>
/// <para>Blocks are 2^order granules, aligned to their size relative to the reservation's base. Free blocks are
/// eagerly coalesced, so a free block's buddy is never free at the same order.</para>
/// <para>Each order keeps a bitmap (the truth) and a stack of candidate indexes (a hint that may hold stale
/// entries, skipped when popped), so allocation and free are O(orders) and allocate nothing in steady state.</para>
/// Not thread-safe: the owning arena calls it (through <see cref="Reservation"/>) under its lock.
/// </remarks>
internal sealed class BuddyBlocks
{
    private readonly ulong[][] _freeBits;
    private readonly long[][] _candidates;
    private readonly int[] _candidateCount;
    private readonly long[] _freeBlocks;

    public BuddyBlocks(long size, int granuleShift)
    {
        Debug.Assert(BitOperations.IsPow2(size) && size >= 1L << granuleShift);
        Size = size;
        GranuleShift = granuleShift;
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
    }

    public long Size { get; }
    public int GranuleShift { get; }
    public int MaxOrder { get; }
    public long FreeBytes { get; private set; }

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

    /// <summary>
    /// The order of the block <see cref="TryAllocate"/> would take <paramref name="order"/> from: the smallest free
    /// block at least that large; -1 when there is none.
    /// </summary>
    public int SmallestFreeOrderFrom(int order)
    {
        for (int source = Math.Max(order, 0); source <= MaxOrder; source++)
        {
            if (_freeBlocks[source] != 0)
                return source;
        }
        return -1;
    }

    /// <summary>Moves on with every <see cref="Free"/>: trimming skips a reservation with nothing freed since it last discarded.</summary>
    public int FreeVersion { get; private set; }

    public long BlockBytes(int order) => 1L << (GranuleShift + order);

    /// <summary>Takes a free block of <paramref name="order"/>, splitting the smallest larger one if needed.</summary>
    public bool TryAllocate(int order, out long offset)
    {
        offset = 0;
        if (order > MaxOrder)
            return false;
        int source = order;
        while (source <= MaxOrder && _freeBlocks[source] == 0)
            source++;
        return source <= MaxOrder && TakeFrom(source, order, out offset);
    }

    /// <summary>
    /// Takes a block of <paramref name="order"/> from the front of a largest free block, for a buffer that is
    /// growing: its right-hand buddies up to that block's size are then free, so it can double in place that far.
    /// </summary>
    public bool TryAllocateAtLargest(int order, out long offset)
    {
        offset = 0;
        int source = LargestFreeOrder;
        return order <= source && TakeFrom(source, order, out offset);
    }

    private bool TakeFrom(int source, int order, out long offset)
    {
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

    /// <summary>Returns a block, coalescing with free buddies.</summary>
    public void Free(long offset, int order)
    {
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
        if (newOrder > MaxOrder || (offset & (BlockBytes(newOrder) - 1)) != 0)
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

    /// <summary>Shrinks an allocated block in place, freeing its right-hand parts.</summary>
    public void ShrinkInPlace(long offset, int order, int newOrder)
    {
        Debug.Assert(newOrder < order);
        for (int level = order - 1; level >= newOrder; level--)
            Free(offset + BlockBytes(level), level);
    }

    /// <summary>Every free block as (offset, length). Allocates; trimming and validation only.</summary>
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

    /// <summary>Checks coalescing, the counters and that free blocks do not overlap. Null when valid, else what is wrong.</summary>
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
        return null;
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
