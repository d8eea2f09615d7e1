using System.Diagnostics;

namespace NativeBuffers.Arenas;

/// <summary>
/// One reservation: a single kernel mapping of 2^n granules that the arena made. It joins two models of the same
/// range, each with one job: <see cref="Blocks"/>, the buddy allocator of its blocks (which are free), and
/// <see cref="Mappings"/>, the kernel-mapping model (which ranges are fresh pages, islands or holes, and so how many
/// kernel mappings the range is).
/// </summary>
/// <remarks>
/// <para>The one rule that ties them: free blocks are always <i>fresh</i> (part of the reservation's own mapping,
/// never an island): islands are refreshed before they are freed, or, filling the whole reservation, kept as its own
/// pages (<see cref="KeepIsland"/>). That is what lets a free buddy be absorbed by
/// in-place growth without creating a multi-VMA block. The members here that touch blocks keep that rule;
/// <see cref="Validate"/> checks it.</para>
/// Not thread-safe: the owning arena calls it under its lock.
/// </remarks>
[DebuggerDisplay("Reservation {Base,h} size={Size} free={FreeBytes} vmas={VmaCount}")]
internal sealed class Reservation
{
    public Reservation(nint baseAddress, long size, int granuleShift, bool hugePages)
    {
        Base = baseAddress;
        Size = size;
        GranuleShift = granuleShift;
        HugePages = hugePages;
        Blocks = new BuddyBlocks(size, granuleShift);
        Mappings = new MappingModel(size);
    }

    public nint Base { get; }
    public long Size { get; }
    public int GranuleShift { get; }
    public bool HugePages { get; }
    public nint End => Base + (nint)Size;

    /// <summary>Which blocks are free: the buddy allocator.</summary>
    public BuddyBlocks Blocks { get; }

    /// <summary>Which ranges are fresh, islands or holes: the kernel-mapping model.</summary>
    public MappingModel Mappings { get; }

    public int MaxOrder => Blocks.MaxOrder;
    public long FreeBytes => Blocks.FreeBytes;
    public bool IsEmpty => Blocks.FreeBytes == Size;
    public int VmaCount => Mappings.VmaCount;

    /// <summary>Moves on with every free: trimming skips a reservation with nothing freed since it last discarded.</summary>
    public int FreeVersion => Blocks.FreeVersion;

    /// <summary>The <see cref="FreeVersion"/> at the last discard of the free blocks' pages (written by the arena).</summary>
    public int DiscardedVersion;

    /// <summary>
    /// A hint: a block its tenant used was freed here since the free blocks' pages were last discarded, so some free
    /// memory is probably resident (the kernel is not asked). Allocation prefers such reservations, because writing
    /// resident pages costs no page faults; page moves avoid them, because a move frees whatever pages were at its
    /// destination. Written by the arena through <see cref="NoteResidentFree"/> and <see cref="NoteDiscarded"/>.
    /// </summary>
    public bool MayHoldResidentFree => LargestResidentFreeOrder >= 0;

    /// <summary>
    /// The order of the largest block a tenant used and freed here since the last discard; -1 when none. It tells a
    /// reservation a big buffer left its pages in from one that small buffers only passed through, however often:
    /// freeing the same small block again does not raise it. The huge space spares only the former's large free
    /// blocks (<see cref="Space.MaxResidentSplitShift"/>): sparing the latter's would send each small rent to new
    /// space that, once the rent returned, looked just as worth sparing.
    /// </summary>
    public int LargestResidentFreeOrder { get; private set; } = -1;

    /// <summary>Records that a used block of <paramref name="order"/> was freed here, its pages resident.</summary>
    public void NoteResidentFree(int order) => LargestResidentFreeOrder = Math.Max(LargestResidentFreeOrder, order);

    /// <summary>Records that the free blocks' pages were discarded: none is resident any more.</summary>
    public void NoteDiscarded() => LargestResidentFreeOrder = -1;

    /// <summary>Idle trimming: the version last seen and when (timestamp ticks); written by the arena.</summary>
    public int IdleSeenVersion;
    public long IdleSince;

    public long BlockBytes(int order) => Blocks.BlockBytes(order);

    /// <inheritdoc cref="BuddyBlocks.LargestFreeOrder"/>
    public int LargestFreeOrder => Blocks.LargestFreeOrder;
    /// <inheritdoc cref="BuddyBlocks.SmallestFreeOrderFrom"/>
    public int SmallestFreeOrderFrom(int order) => Blocks.SmallestFreeOrderFrom(order);
    public nint AddressOf(long offset) => Base + (nint)offset;
    public bool Contains(nint address) => address >= Base && address < End;

    // ---- blocks, keeping free blocks fresh ----

    /// <summary>Takes a free block of <paramref name="order"/>, splitting a larger one if needed.</summary>
    public bool TryAllocate(int order, out long offset) => Blocks.TryAllocate(order, out offset);

    /// <inheritdoc cref="BuddyBlocks.TryAllocateAtLargest"/>
    public bool TryAllocateAtLargest(int order, out long offset) => Blocks.TryAllocateAtLargest(order, out offset);

    /// <summary>Returns a block, coalescing with free buddies. The block must be fresh (not an island).</summary>
    public void Free(long offset, int order)
    {
        Debug.Assert(!Mappings.IsIsland(offset));
        Blocks.Free(offset, order);
    }

    /// <summary>
    /// Grows an allocated fresh block from <paramref name="order"/> to <paramref name="newOrder"/> without moving it,
    /// when it is aligned for the bigger size and every right-hand buddy on the way is free. An island never grows
    /// in place: it is a VMA of its own, and the buddies it would absorb are not.
    /// </summary>
    public bool TryGrowInPlace(long offset, int order, int newOrder) =>
        !Mappings.IsIsland(offset) && Blocks.TryGrowInPlace(offset, order, newOrder);

    /// <summary>Shrinks an allocated fresh block in place, freeing its right-hand parts.</summary>
    public void ShrinkInPlace(long offset, int order, int newOrder)
    {
        Debug.Assert(!Mappings.IsIsland(offset));
        Blocks.ShrinkInPlace(offset, order, newOrder);
    }

    /// <summary>Every free block as (offset, length), for discarding their pages. Allocates; trimming only.</summary>
    public List<(long Offset, long Length)> FreeBlocks() => Blocks.FreeBlocks();

    // ---- the kernel-mapping model ----

    /// <inheritdoc cref="MappingModel.NeedsStamp"/>
    public bool NeedsStamp(long offset) => Mappings.NeedsStamp(offset);

    /// <inheritdoc cref="MappingModel.MarkStamped"/>
    public void MarkStamped(long offset) => Mappings.MarkStamped(offset);

    /// <inheritdoc cref="MappingModel.MarkIsland"/>
    public void MarkIsland(long offset, long length) => Mappings.MarkIsland(offset, length);

    /// <inheritdoc cref="MappingModel.IsWholeIsland"/>
    public bool IsWholeIsland => Mappings.IsWholeIsland;

    /// <inheritdoc cref="MappingModel.KeepIsland"/>
    public void KeepIsland(long offset, long length) => Mappings.KeepIsland(offset, length);

    /// <inheritdoc cref="MappingModel.MarkFresh"/>
    public void MarkFresh(long offset, long length) => Mappings.MarkFresh(offset, length);

    /// <inheritdoc cref="MappingModel.MarkHole"/>
    public void MarkHole(long offset, long length, bool foreign) => Mappings.MarkHole(offset, length, foreign);

    /// <inheritdoc cref="MappingModel.VmaCountWithIsland"/>
    public int VmaCountWithIsland(long offset, long length) => Mappings.VmaCountWithIsland(offset, length);

    /// <inheritdoc cref="MappingModel.IslandsAndHoles"/>
    public IReadOnlyList<(long Offset, long Length, RunKind Kind)> IslandsAndHoles => Mappings.IslandsAndHoles;

    /// <summary>The address ranges we may unmap when the reservation goes: all of it except ranges others mapped.</summary>
    public IEnumerable<(nint Start, long Length)> OwnedRanges() =>
        Mappings.OwnedRanges().Select(range => (AddressOf(range.Offset), range.Length));

    // ---- invariants ----

    /// <summary>Checks both models and the rule that ties them; property tests call it after every step. Null when valid, else what is wrong.</summary>
    public string? Validate()
    {
        if (Blocks.Validate() is string blocks)
            return blocks;
        if (Mappings.Validate() is string mappings)
            return mappings;
        foreach ((long offset, long length) in Blocks.FreeBlocks())
        {
            if (Mappings.DescribeNotFresh(offset, offset + length) is string what)
                return $"free block at {offset} overlaps {what}";
        }
        return null;
    }
}
