using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace NativeBuffers.Arenas;

/// <summary>Where an allocation's memory lives.</summary>
internal enum AllocationKind : byte
{
    /// <summary>A slot of a slab: a small class, carved from a 64 KiB block.</summary>
    Slot,
    /// <summary>A buddy block of a reservation: a page or larger.</summary>
    Block,
    /// <summary>A mapping of its own, made by a plain mremap move (growth path 3).</summary>
    Detached,
}

/// <summary>
/// The arena's record of one piece of memory handed out: where it is, how big, and where it came from.
/// Objects are reused: a slab slot keeps its record for life, block records are recycled by the arena.
/// The <see cref="Generation"/> is the pool's lease check: odd while rented, and every rent, return and
/// resize moves it on, so a stale lease never matches again.
/// </summary>
[DebuggerDisplay("{Kind} {Address,h} capacity={Capacity} generation={Generation}")]
internal sealed class Allocation
{
    public Allocation(Arena arena) => Arena = arena;

    public Arena Arena { get; }

    /// <summary>The first byte; valid while <see cref="IsRented"/> (or while the arena owns it).</summary>
    public nint Address;

    /// <summary>Usable bytes: the size of <see cref="SizeClass"/>.</summary>
    public long Capacity;

    public int SizeClass;

    /// <summary>Odd while rented. Changed only by the pool that owns the arena, with Interlocked on return.</summary>
    public int Generation;

    public AllocationKind Kind;

    // Slot
    public Slab? Slab;
    public int SlotIndex;

    // Block, and the anchor of a Detached allocation that the kernel grew in place past its reservation's end.
    public Reservation? Reservation;
    public long Offset;
    public int Order;

    /// <summary>The block's pages were moved in from elsewhere and form a kernel mapping of their own.</summary>
    public bool IsIsland;

    /// <summary>
    /// Leased when the arena was disposed: the memory stays mapped until the lease ends (<c>Arena.ReleaseOrphan</c>).
    /// Read and written under the arena lock.
    /// </summary>
    public bool IsOrphan;

    /// <summary>
    /// Scratch slot for the pooling layer: a <c>NativeMemoryPool</c> that reuses owners (an opt-in) keeps the owner
    /// objects it binds to this record's leases here, so renting the record again allocates nothing. The arena never
    /// reads it; it stays with the record when the record is recycled, because the owners read address and capacity
    /// from the record at every access.
    /// </summary>
    public object? Owner;

    public bool IsRented
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => (Generation & 1) != 0;
    }

    /// <summary>True for a Detached allocation whose first bytes are still a block of a reservation.</summary>
    public bool IsAnchored => Kind == AllocationKind.Detached && Reservation is not null;

    /// <summary>Bytes of the anchor block (the part inside the reservation) for an anchored Detached allocation.</summary>
    public long AnchorBytes => Reservation!.BlockBytes(Order);
}
