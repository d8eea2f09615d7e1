using System.Diagnostics;

namespace NativeBuffers.Arenas;

/// <summary>
/// A 64 KiB block of the small space cut into equal slots of one small class. Slot records are made on first
/// use and kept for the slab's life, so renting a small buffer allocates nothing in steady state.
/// Not thread-safe: the arena calls it under its lock.
/// </summary>
[DebuggerDisplay("Slab class={SizeClass} free={FreeCount}/{SlotCount}")]
internal sealed class Slab
{
    public const int Bytes = 64 * 1024;

    private readonly Allocation?[] _slots;
    private readonly int[] _free;
    private int _freeCount;

    public Slab(Reservation reservation, long offset, int order, int sizeClass)
    {
        Reservation = reservation;
        Offset = offset;
        Order = order;
        SizeClass = sizeClass;
        SlotBytes = SizeClasses.SizeOf(sizeClass);
        SlotCount = (int)(Bytes / SlotBytes);
        _slots = new Allocation?[SlotCount];
        _free = new int[SlotCount];
        // Hand out low slots first: fewer pages touched for a lightly used class.
        for (int i = 0; i < SlotCount; i++)
            _free[i] = SlotCount - 1 - i;
        _freeCount = SlotCount;
    }

    public Reservation Reservation { get; }
    public long Offset { get; }
    public int Order { get; }
    public int SizeClass { get; }
    public long SlotBytes { get; }
    public int SlotCount { get; }
    public int FreeCount => _freeCount;
    public bool IsFull => _freeCount == 0;
    public bool IsEmpty => _freeCount == SlotCount;

    /// <summary>Position in the arena's list of slabs with free slots, or -1.</summary>
    public int PartialIndex = -1;

    /// <summary>The slab was empty when trimming discarded its pages; cleared as soon as a slot is taken again.</summary>
    public bool PagesDiscarded;

    public Allocation Take(Arena arena)
    {
        PagesDiscarded = false;
        int slot = _free[--_freeCount];
        return _slots[slot] ??= new Allocation(arena, this, slot);
    }

    public void Put(Allocation allocation)
    {
        Debug.Assert(allocation.Slab == this);
        _free[_freeCount++] = allocation.SlotIndex;
    }

    /// <summary>The records ever made for this slab's slots (for disposal and validation).</summary>
    public IEnumerable<Allocation> Records => _slots.Where(s => s is not null)!;
}
