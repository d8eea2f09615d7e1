using NativeBuffers.Arenas;
using NativeBuffers.Os;

namespace NativeBuffers.Pooling;

/// <summary>
/// The guarded mode's quarantine (<see cref="NativePoolOptions.Guarded"/>): returned allocations, and the ranges a
/// resize vacated, wait here before the arena may hand their memory to anyone else. First in, first out; a rent
/// never takes from it, so no renter can be given memory that a stale span, pointer or <see cref="Memory{T}"/> of an
/// earlier tenant still reaches while that memory is within the budget.
/// </summary>
/// <remarks>
/// <para>Budget: at most <see cref="NativePoolOptions.QuarantineBytes"/> of capacity and <see cref="MaxEntries"/>
/// allocations. When an entry would exceed either, the oldest leave (checked, made accessible, freed to the arena);
/// the newest entry always stays, however large, so even a buffer bigger than the budget is guarded until the next
/// return.</para>
/// <para>Protection: blocks (a page and up: whole OS pages of their own) are made inaccessible (mprotect PROT_NONE)
/// and their pages discarded, so they cost no memory while they wait and a stale write faults where it happens.
/// Protecting part of a reservation splits its VMA (up to +2), so each protection takes
/// <see cref="MappingsPerProtection"/> from the arena's mapping budget (<see cref="Arena.TryTakeGuardMappings"/>),
/// at most half of it, leaving the other half for the moves that growth needs. Slots of slabs (below a page) share
/// their pages and cannot be protected alone; they, and blocks the budget or the OS (the portable layer) would not
/// let us protect, are filled with <see cref="Poison"/>, which is checked when they leave: a mismatch is a
/// <see cref="StaleWriteException"/>.</para>
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

    /// <summary>The most allocations the quarantine holds, whatever their size (bounds its bookkeeping for tiny slots).</summary>
    public const int MaxEntries = 65_536;

    /// <summary>Kernel mappings charged per protected range: mprotect in the middle of a VMA splits it in three.</summary>
    public const int MappingsPerProtection = 2;

    private readonly record struct Entry(Allocation Allocation, bool Protected, string? RentStackTrace);

    private readonly Arena _arena;
    private readonly VirtualMemory _os;
    private readonly long _budgetBytes;
    private readonly int _mappingShare;
    private readonly Lock _lock = new();
    private readonly Queue<Entry> _entries = new();
    private long _bytes;
    private int _protected;
    private long _staleWrites;
    private StaleWriteException? _deferred;
    private volatile bool _cannotProtect;

    public LeaseGuard(Arena arena, long budgetBytes)
    {
        _arena = arena;
        _os = arena.Os;
        _budgetBytes = budgetBytes;
        _mappingShare = arena.Settings.MappingBudget / 2;
    }

    public long StaleWrites => Volatile.Read(ref _staleWrites);

    public (int Count, int Protected, long Bytes) Counts
    {
        get
        {
            lock (_lock)
                return (_entries.Count, _protected, _bytes);
        }
    }

    /// <summary>
    /// Takes a returned allocation (its lease already retired), or a range a resize vacated, into the quarantine,
    /// and evicts the oldest entries beyond the budget. With <paramref name="throwStale"/>, throws the
    /// <see cref="StaleWriteException"/> of an evicted entry that fails its check (or one deferred earlier); the
    /// allocation is in the quarantine either way. Without, a failure is kept for the next call that may throw
    /// (a resize must not fail after its buffer moved).
    /// </summary>
    public void Quarantine(Allocation allocation, string? rentStackTrace, bool throwStale = true)
    {
        bool protect = allocation.State != AllocationState.Slot && !_cannotProtect
                       && _arena.TryTakeGuardMappings(MappingsPerProtection, _mappingShare);
        if (protect)
        {
            OsError error = _os.Protect(allocation.Address, (nuint)allocation.Capacity, accessible: false);
            if (error.IsFailure)
            {
                // ENOMEM at the map-count limit, or no mprotect (portable layer): the pattern needs no mapping.
                _arena.ReturnGuardMappings(MappingsPerProtection);
                if (error == OsError.NotSupported)
                    _cannotProtect = true;
                protect = false;
            }
        }
        if (protect)
            _os.Discard(allocation.Address, (nuint)allocation.Capacity); // best effort: it only saves memory
        else
            Fill(allocation);

        List<Entry>? evicted = null;
        lock (_lock)
        {
            Add(new Entry(allocation, protect, rentStackTrace));
            while (_entries.Count > 1 && (_bytes > _budgetBytes || _entries.Count > MaxEntries))
                (evicted ??= new()).Add(Take());
        }
        StaleWriteException? stale = evicted is null ? null : Release(evicted);
        Report(stale, throwStale);
    }

    /// <summary>Empties the quarantine into the arena (Trim). Throws the first <see cref="StaleWriteException"/> found (or deferred), after all are released.</summary>
    public void Flush()
    {
        var all = new List<Entry>();
        lock (_lock)
        {
            while (_entries.Count > 0)
                all.Add(Take());
        }
        Report(Release(all), throwNow: true);
    }

    /// <summary>Forgets everything (the pool is being disposed; the arena unmaps the memory, protected or not).</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _entries.Clear();
            _bytes = 0;
            _protected = 0;
            _deferred = null;
        }
    }

    private void Add(Entry entry)
    {
        _entries.Enqueue(entry);
        _bytes += entry.Allocation.Capacity;
        if (entry.Protected)
            _protected++;
    }

    private Entry Take()
    {
        Entry entry = _entries.Dequeue();
        _bytes -= entry.Allocation.Capacity;
        if (entry.Protected)
            _protected--;
        return entry;
    }

    private void Report(StaleWriteException? stale, bool throwNow)
    {
        if (!throwNow)
        {
            if (stale is not null)
                Interlocked.CompareExchange(ref _deferred, stale, null);
            return;
        }
        stale ??= Interlocked.Exchange(ref _deferred, null);
        if (stale is not null)
            throw stale;
    }

    /// <summary>Checks, unprotects and frees the entries; returns the first stale write found.</summary>
    private StaleWriteException? Release(List<Entry> entries)
    {
        StaleWriteException? first = null;
        foreach (Entry entry in entries)
        {
            if (entry.Protected && !Unprotect(entry))
                continue;
            first ??= Check(entry);
            _arena.Free(entry.Allocation);
        }
        return first;
    }

    /// <summary>Makes a protected allocation accessible; on failure it goes back into the quarantine (never to the arena while inaccessible).</summary>
    private bool Unprotect(Entry entry)
    {
        if (_os.Protect(entry.Allocation.Address, (nuint)entry.Allocation.Capacity, accessible: true).IsSuccess)
        {
            _arena.ReturnGuardMappings(MappingsPerProtection);
            return true;
        }
        lock (_lock)
            Add(entry);
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
