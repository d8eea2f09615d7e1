using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace NativeBuffers.Arenas;

/// <summary>Where an allocation's memory lives: the rows of the state table on <see cref="Allocation"/>.</summary>
internal enum AllocationState : byte
{
    /// <summary>A block record not in use, on the arena's stack of spare records: no memory.</summary>
    Spare,
    /// <summary>A slot of a slab: a small class, carved from a 64 KiB block. For the record's life.</summary>
    Slot,
    /// <summary>A buddy block of a reservation, a page or larger, whose pages are the reservation's own mapping.</summary>
    FreshBlock,
    /// <summary>A buddy block of a reservation whose pages were moved in by mremap (growth path 2): a kernel mapping of its own.</summary>
    Island,
    /// <summary>A mapping of its own outside every reservation, made by a plain mremap that moved the pages (growth path 3).</summary>
    Detached,
    /// <summary>
    /// A mapping of its own that the kernel made by growing a block in place past its reservation's end (growth
    /// path 3): its first <see cref="Allocation.AnchorBytes"/> are still that block, the anchor.
    /// </summary>
    Anchored,
}

/// <summary>
/// The arena's record of one piece of memory handed out: where it is, how big, and where it came from.
/// Objects are reused: a slab slot keeps its record for life, block records are recycled by the arena.
/// </summary>
/// <remarks>
/// <para>A record has two independent dimensions. Its <b>lease</b> is the pooling layer's: <see cref="Generation"/>
/// is odd while rented, and every rent and every end of a lease (return, resize, dispose: "retire") moves it on, so a
/// stale lease never matches again. Its <b>state</b> (<see cref="State"/>) is the arena's: where the memory lives.
/// Only the transition methods below change the state and the fields that describe it; each is called by the arena
/// under its lock, and each checks (Debug.Assert, free in Release) that it starts from a state the table allows.</para>
/// <list type="table">
/// <listheader><term>State</term><description>Fields that mean something · transitions out (method: to, called from)</description></listheader>
/// <item><term><see cref="AllocationState.Spare"/></term><description>none (<see cref="Reservation"/> null,
/// <see cref="Address"/> 0) · <see cref="TakeBlock"/>: FreshBlock (<c>Arena.TakeBlock</c>; <c>Arena.VacatedBlock</c>
/// for a range a move vacated, in guarded mode).</description></item>
/// <item><term><see cref="AllocationState.Slot"/></term><description><see cref="Slab"/>, <see cref="SlotIndex"/>,
/// and the slot's address, capacity and class, fixed by the constructor (<c>Slab.Take</c>) · none: a slot record
/// stays a slot; a slot that grows or shrinks copies into another record.</description></item>
/// <item><term><see cref="AllocationState.FreshBlock"/></term><description><see cref="Reservation"/>,
/// <see cref="Offset"/>, <see cref="Order"/>; Address = Reservation.AddressOf(Offset); Capacity = 2^Order granules
/// = the size of <see cref="SizeClass"/> · <see cref="ResizeBlock"/>: FreshBlock (grow or shrink in place among
/// buddies) · <see cref="MoveToIsland"/>: Island (<c>Arena.TryRemapFixed</c>) · <see cref="Remapped"/>: Detached
/// or Anchored (<c>Arena.TryRemap</c>) · <see cref="Recycle"/>: Spare (<c>Arena.FreeBlock</c>).</description></item>
/// <item><term><see cref="AllocationState.Island"/></term><description>as FreshBlock · <see cref="RefreshIsland"/>:
/// FreshBlock, once fresh pages replaced the island's (<c>Arena.FreeBlock</c>, or <c>Arena.Consolidate</c> for an
/// island whose refresh failed and that waits, still an island, in the arena's list) · <see cref="KeepIsland"/>:
/// FreshBlock, an island filling its whole reservation kept with its pages (<c>Arena.TryKeepIsland</c>) ·
/// MoveToIsland · Remapped.</description></item>
/// <item><term><see cref="AllocationState.Detached"/></term><description><see cref="Address"/>,
/// <see cref="Capacity"/>, <see cref="SizeClass"/>; Reservation null; in the arena's detached set ·
/// MoveToIsland · Remapped: Detached · Recycle: Spare (<c>Arena.FreeDetached</c>, once unmapped).</description></item>
/// <item><term><see cref="AllocationState.Anchored"/></term><description>as Detached, and Reservation, Offset and
/// Order name the anchor block, an island if <see cref="AnchorIsIsland"/> · MoveToIsland · Remapped: Anchored, or
/// Detached when the pages left · <see cref="CutToAnchor"/>: FreshBlock or Island, once the part past the anchor
/// is unmapped (<c>Arena.FreeDetached</c>).</description></item>
/// </list>
/// <para>Beside the state, <see cref="IsOrphan"/> marks a record whose lease was out when the arena was disposed
/// (<see cref="MarkOrphan"/>, <see cref="EndOrphan"/>). <see cref="Check"/> verifies the table's field rules;
/// <c>Arena.Validate</c> calls it for every record.</para>
/// </remarks>
[DebuggerDisplay("{State} {Address,h} capacity={Capacity} generation={Generation}")]
internal sealed class Allocation
{
    /// <summary>A spare block record.</summary>
    public Allocation(Arena arena) => Arena = arena;

    /// <summary>The record of slot <paramref name="slotIndex"/> of <paramref name="slab"/>, a slot for life.</summary>
    public Allocation(Arena arena, Slab slab, int slotIndex)
    {
        Arena = arena;
        State = AllocationState.Slot;
        Slab = slab;
        SlotIndex = slotIndex;
        SizeClass = slab.SizeClass;
        Capacity = slab.SlotBytes;
        Address = slab.Reservation.AddressOf(slab.Offset + slotIndex * slab.SlotBytes);
    }

    public Arena Arena { get; }

    // Address and Capacity are fields, not properties, because the pooling layer reads Address with Volatile.Read
    // (ordered against Generation) on every access to a lease. Only the transition methods below write them.

    /// <summary>The first byte; valid while <see cref="IsRented"/> (or while the arena owns it).</summary>
    public nint Address;

    /// <summary>Usable bytes: the size of <see cref="SizeClass"/> (of the anchor's class after <see cref="CutToAnchor"/>).</summary>
    public long Capacity;

    /// <summary>Odd while rented. Changed only by the pool that owns the arena, with Interlocked on return.</summary>
    public int Generation;

    /// <summary>
    /// Scratch slot for the pooling layer: a <c>NativeMemoryPool</c> that reuses owners (an opt-in) keeps the owner
    /// objects it binds to this record's leases here, so renting the record again allocates nothing. The arena never
    /// reads it; it stays with the record when the record is recycled, because the owners read address and capacity
    /// from the record at every access.
    /// </summary>
    public object? Owner;

    public AllocationState State { get; private set; }

    public int SizeClass { get; private set; }

    /// <summary>The slab of a Slot record.</summary>
    public Slab? Slab { get; }

    public int SlotIndex { get; }

    /// <summary>The reservation of a FreshBlock or Island, or of an Anchored record's anchor block; null otherwise.</summary>
    public Reservation? Reservation { get; private set; }

    public long Offset { get; private set; }

    public int Order { get; private set; }

    /// <summary>Whether an Anchored record's anchor block is an island (an island the kernel grew past the reservation's end).</summary>
    public bool AnchorIsIsland { get; private set; }

    /// <summary>
    /// Leased when the arena was disposed: the memory stays mapped until the lease ends (<c>Arena.ReleaseOrphan</c>).
    /// Read and written under the arena lock.
    /// </summary>
    public bool IsOrphan { get; private set; }

    public bool IsRented
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => (Generation & 1) != 0;
    }

    /// <summary>A buddy block of a reservation, fresh or island.</summary>
    public bool IsBlock => State is AllocationState.FreshBlock or AllocationState.Island;

    public bool IsIsland => State == AllocationState.Island;

    /// <summary>A mapping of its own: Detached or Anchored; such records are in the arena's detached set.</summary>
    public bool IsDetached => State is AllocationState.Detached or AllocationState.Anchored;

    public bool IsAnchored => State == AllocationState.Anchored;

    /// <summary>Bytes of the anchor block (the part inside the reservation) for an Anchored record.</summary>
    public long AnchorBytes => Reservation!.BlockBytes(Order);

    // ---------------- transitions ----------------

    /// <summary>Spare → FreshBlock: the block of <paramref name="order"/> at <paramref name="offset"/>, of class <paramref name="sizeClass"/>.</summary>
    public void TakeBlock(Reservation reservation, long offset, int order, int sizeClass)
    {
        Debug.Assert(State == AllocationState.Spare && reservation.BlockBytes(order) == SizeClasses.SizeOf(sizeClass));
        State = AllocationState.FreshBlock;
        SetBlock(reservation, offset, order, sizeClass);
    }

    /// <summary>FreshBlock → FreshBlock: the block grew into its free buddies, or gave its upper part back.</summary>
    public void ResizeBlock(int order, int sizeClass)
    {
        Debug.Assert(State == AllocationState.FreshBlock);
        Order = order;
        SizeClass = sizeClass;
        Capacity = SizeClasses.SizeOf(sizeClass);
    }

    /// <summary>Any state but Spare and Slot → Island: the pages were moved into the block at <paramref name="offset"/> of <paramref name="destination"/>.</summary>
    public void MoveToIsland(Reservation destination, long offset, int order, int sizeClass)
    {
        Debug.Assert(State is not (AllocationState.Spare or AllocationState.Slot));
        State = AllocationState.Island;
        AnchorIsIsland = false;
        SetBlock(destination, offset, order, sizeClass);
    }

    /// <summary>
    /// Any state but Spare and Slot, after a plain mremap to class <paramref name="sizeClass"/> answered
    /// <paramref name="address"/>. Pages that left make the record Detached (its block, if it had one, is the caller's
    /// to give back). Pages the kernel grew in place keep the record where it was: a Detached record stays Detached,
    /// and a block becomes (or stays) the anchor of an Anchored record.
    /// </summary>
    public void Remapped(nint address, int sizeClass)
    {
        Debug.Assert(State is not (AllocationState.Spare or AllocationState.Slot));
        if (address != Address || State == AllocationState.Detached)
        {
            State = AllocationState.Detached;
            Reservation = null;
            AnchorIsIsland = false;
        }
        else if (State != AllocationState.Anchored)
        {
            AnchorIsIsland = State == AllocationState.Island;
            State = AllocationState.Anchored;
        }
        Address = address;
        SizeClass = sizeClass;
        Capacity = SizeClasses.SizeOf(sizeClass);
    }

    /// <summary>Anchored → FreshBlock or Island: the part past the anchor block is unmapped; the anchor is a block again.</summary>
    public void CutToAnchor()
    {
        Debug.Assert(State == AllocationState.Anchored);
        State = AnchorIsIsland ? AllocationState.Island : AllocationState.FreshBlock;
        AnchorIsIsland = false;
        Capacity = AnchorBytes;
        SizeClass = SizeClasses.ClassOf(Capacity);
    }

    /// <summary>Island → FreshBlock: fresh pages replaced the island's, merging it back into its reservation's mapping.</summary>
    public void RefreshIsland()
    {
        Debug.Assert(State == AllocationState.Island);
        State = AllocationState.FreshBlock;
    }

    /// <summary>
    /// Island → FreshBlock: the island filled its whole reservation and stays mapped, pages and all, as the
    /// reservation's own memory (<see cref="Reservation.KeepIsland"/>); the block is about to be freed.
    /// </summary>
    public void KeepIsland()
    {
        Debug.Assert(State == AllocationState.Island);
        State = AllocationState.FreshBlock;
    }

    /// <summary>FreshBlock or Detached → Spare: the block is free again, or the mapping is gone.</summary>
    public void Recycle()
    {
        Debug.Assert(State is AllocationState.FreshBlock or AllocationState.Detached);
        State = AllocationState.Spare;
        Reservation = null;
        Address = 0;
    }

    /// <summary>The arena was disposed while this record was leased.</summary>
    public void MarkOrphan()
    {
        Debug.Assert(State != AllocationState.Spare && !IsOrphan);
        IsOrphan = true;
    }

    /// <summary>The orphan's lease ended; the arena unmaps its memory.</summary>
    public void EndOrphan()
    {
        Debug.Assert(IsOrphan);
        IsOrphan = false;
    }

    private void SetBlock(Reservation reservation, long offset, int order, int sizeClass)
    {
        Reservation = reservation;
        Offset = offset;
        Order = order;
        SizeClass = sizeClass;
        Capacity = SizeClasses.SizeOf(sizeClass);
        Address = reservation.AddressOf(offset);
    }

    /// <summary>The first rule of the state table this record breaks, or null. Under the arena lock.</summary>
    public string? Check()
    {
        switch (State)
        {
            case AllocationState.Spare:
                return Reservation is null && Address == 0 ? null : "a spare record still names memory";
            case AllocationState.Slot:
                return Slab is not null && Capacity == Slab.SlotBytes && Address == Slab.Reservation.AddressOf(Slab.Offset + SlotIndex * Slab.SlotBytes)
                    ? null : "a slot record does not match its slab";
            case AllocationState.FreshBlock:
            case AllocationState.Island:
                if (Reservation is null || Address != Reservation.AddressOf(Offset))
                    return $"a {State} record is not at its block";
                return Capacity == Reservation.BlockBytes(Order) && Capacity == SizeClasses.SizeOf(SizeClass)
                    ? null : $"a {State} record's capacity {Capacity} is not its block's and class's";
            case AllocationState.Detached:
                return Reservation is null && Capacity == SizeClasses.SizeOf(SizeClass) ? null : "a detached record names a reservation or has a capacity off its class";
            case AllocationState.Anchored:
                return Reservation is not null && Address == Reservation.AddressOf(Offset) && Capacity > AnchorBytes && Capacity == SizeClasses.SizeOf(SizeClass)
                    ? null : "an anchored record does not begin with its anchor block, or does not reach past it";
            default:
                return $"unknown state {State}";
        }
    }
}
