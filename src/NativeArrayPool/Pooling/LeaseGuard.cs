using NativeBuffers.Arenas;
using NativeBuffers.Os;

namespace NativeBuffers.Pooling;

/// <summary>
/// The guarded mode's quarantine (<see cref="NativePoolOptions.Guarded"/>): returned allocations wait here, oldest
/// first out, before the arena may hand their memory to anyone else.
/// </summary>
/// <remarks>
/// <para>Large blocks (<see cref="ProtectBytes"/> and up) are made inaccessible (mprotect PROT_NONE) and their pages
/// discarded, so they cost no memory while they wait and a stale write faults where it happens. Protecting part
/// of a reservation splits its VMA (up to +2); those VMAs are not in the arena's kernel-mapping model or budget,
/// so at most <see cref="MaxProtected"/> blocks are protected at once (≤ 128 extra VMAs). Everything else, and
/// large blocks where protection fails or is not supported (the portable layer), is filled with
/// <see cref="Poison"/> and checked when it leaves the quarantine: on reuse by a rent of its class, on eviction
/// (the quarantine holds at most <see cref="MaxEntries"/> allocations and <see cref="MaxPoisonedBytes"/> poisoned
/// bytes), or on Trim.</para>
/// <para>Why a quarantine rather than poisoning what the arena frees: the arena coalesces and re-splits blocks,
/// discards free pages on trim, and moves pages into free blocks on growth; memory it owns has no stable
/// identity to check against. An allocation in the quarantine is still taken as far as the arena knows.</para>
/// Thread-safety: thread-safe; the system calls and memory scans run outside the lock, on allocations that only
/// the calling thread holds at that moment.
/// </remarks>
internal sealed class LeaseGuard
{
    /// <summary>The fill of quarantined memory: "dead buffer". An odd, non-zero value, unlikely as real data.</summary>
    public const byte Poison = 0xDB;
    public const long ProtectBytes = 64 * 1024;
    public const int MaxProtected = 64;
    public const int MaxEntries = 1024;
    public const long MaxPoisonedBytes = 64L << 20;

    private readonly record struct Entry(Allocation Allocation, bool Protected, string? RentStackTrace);

    private readonly Arena _arena;
    private readonly VirtualMemory _os;
    private readonly Lock _lock = new();
    private readonly List<Entry> _entries = new();
    private long _poisonedBytes;
    private int _protected;
    private long _staleWrites;

    public LeaseGuard(Arena arena)
    {
        _arena = arena;
        _os = arena.Os;
    }

    public long StaleWrites => Volatile.Read(ref _staleWrites);

    public (int Count, int Protected) Counts
    {
        get
        {
            lock (_lock)
                return (_entries.Count, _protected);
        }
    }

    /// <summary>
    /// Takes a returned allocation (its lease already retired) into the quarantine. Throws
    /// <see cref="StaleWriteException"/> if an allocation evicted to make room fails its check; the returned one
    /// is in the quarantine either way.
    /// </summary>
    public void Quarantine(Allocation allocation, string? rentStackTrace)
    {
        bool protect = false;
        if (allocation.Kind != AllocationKind.Slot && allocation.Capacity >= ProtectBytes)
        {
            lock (_lock)
            {
                if (_protected < MaxProtected)
                {
                    _protected++;
                    protect = true;
                }
            }
        }
        if (protect && _os.Protect(allocation.Address, (nuint)allocation.Capacity, accessible: false).IsFailure)
        {
            // Typically ENOMEM at the map-count limit: fall back to the pattern, which needs no mapping.
            lock (_lock)
                _protected--;
            protect = false;
        }
        if (protect)
            _os.Discard(allocation.Address, (nuint)allocation.Capacity); // best effort: it only saves memory
        else
            Fill(allocation);

        List<Entry>? evicted = null;
        lock (_lock)
        {
            _entries.Add(new Entry(allocation, protect, rentStackTrace));
            if (!protect)
                _poisonedBytes += allocation.Capacity;
            while (_entries.Count > MaxEntries || _poisonedBytes > MaxPoisonedBytes)
            {
                (evicted ??= new()).Add(_entries[0]);
                Forget(0);
            }
        }
        if (evicted is not null)
            Release(evicted);
    }

    /// <summary>
    /// The oldest quarantined allocation of <paramref name="sizeClass"/>, checked and accessible again, or null.
    /// Throws <see cref="StaleWriteException"/> when its pattern was overwritten; the memory then goes back to the
    /// arena (its contents are garbage, not unsafe) and no lease is made.
    /// </summary>
    public Allocation? TryTake(int sizeClass)
    {
        Entry entry;
        lock (_lock)
        {
            int index = _entries.FindIndex(e => e.Allocation.SizeClass == sizeClass);
            if (index < 0)
                return null;
            entry = _entries[index];
            Forget(index);
        }
        if (entry.Protected && !Unprotect(entry))
            return null;
        StaleWriteException? stale = Check(entry);
        if (stale is not null)
        {
            _arena.Free(entry.Allocation);
            throw stale;
        }
        return entry.Allocation;
    }

    /// <summary>Empties the quarantine into the arena (Trim). Throws the first <see cref="StaleWriteException"/> found, after all are released.</summary>
    public void Flush()
    {
        List<Entry> all;
        lock (_lock)
        {
            all = new List<Entry>(_entries);
            _entries.Clear();
            _poisonedBytes = 0;
            _protected -= all.Count(e => e.Protected);
        }
        Release(all);
    }

    /// <summary>Forgets everything (the pool is being disposed; the arena unmaps the memory, protected or not).</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _entries.Clear();
            _poisonedBytes = 0;
            _protected = 0;
        }
    }

    private void Forget(int index)
    {
        Entry entry = _entries[index];
        _entries.RemoveAt(index);
        if (entry.Protected)
            _protected--;
        else
            _poisonedBytes -= entry.Allocation.Capacity;
    }

    private void Release(List<Entry> entries)
    {
        StaleWriteException? first = null;
        foreach (Entry entry in entries)
        {
            if (entry.Protected && !Unprotect(entry))
                continue;
            first ??= Check(entry);
            _arena.Free(entry.Allocation);
        }
        if (first is not null)
            throw first;
    }

    /// <summary>Makes a protected allocation accessible; on failure it goes back into the quarantine (never to the arena while inaccessible).</summary>
    private bool Unprotect(Entry entry)
    {
        if (_os.Protect(entry.Allocation.Address, (nuint)entry.Allocation.Capacity, accessible: true).IsSuccess)
            return true;
        lock (_lock)
        {
            _entries.Add(entry);
            _protected++;
        }
        return false;
    }

    private static void Fill(Allocation allocation)
    {
        for (long done = 0; done < allocation.Capacity;)
        {
            int chunk = (int)Math.Min(allocation.Capacity - done, 1 << 30);
            MemoryAccess.AsSpan<byte>(allocation.Address + (nint)done, chunk).Fill(Poison);
            done += chunk;
        }
    }

    private StaleWriteException? Check(Entry entry)
    {
        if (entry.Protected)
            return null; // nothing could write to it: a write would have faulted
        Allocation allocation = entry.Allocation;
        for (long done = 0; done < allocation.Capacity;)
        {
            int chunk = (int)Math.Min(allocation.Capacity - done, 1 << 30);
            Span<byte> span = MemoryAccess.AsSpan<byte>(allocation.Address + (nint)done, chunk);
            int at = span.IndexOfAnyExcept(Poison);
            if (at >= 0)
            {
                Interlocked.Increment(ref _staleWrites);
                long offset = done + at;
                byte found = span[at];
                return new StaleWriteException(
                    $"A buffer of {allocation.Capacity} bytes at 0x{allocation.Address:x} was written to after it was returned: " +
                    $"byte {offset} is 0x{found:x2}, not the quarantine pattern 0x{Poison:x2}. Some code kept a Span or pointer " +
                    "past Return or Resize and wrote through it" +
                    (entry.RentStackTrace is null
                        ? ". Turn on NativePoolOptions.CaptureRentStackTraces to see where that buffer was rented."
                        : $". The buffer had been rented at:{Environment.NewLine}{entry.RentStackTrace}"),
                    allocation.Capacity, offset, found, Poison, entry.RentStackTrace);
            }
            done += chunk;
        }
        return null;
    }
}
