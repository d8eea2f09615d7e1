namespace NativeBuffers.Arenas;

// The mapping reserve: the last kernel mappings below vm.max_map_count belong to the rest of the process.
//
// The budget (Arena.cs) bounds what the pool itself owns; it cannot see the process. When another component
// has brought the process near the limit, any mapping the pool adds may be the one the runtime needed a moment
// later for a thread stack, a GC region or a JIT page (W^X maps code twice), and then the runtime dies, not the
// pool. So before adding mappings the pool makes sure that at least MappingReserve of them stay free for others,
// and below that it adds none: growth falls back to copying within its own space, and a rent that needs a new
// reservation is refused with an exception.
//
// The process's count comes from the kernel, and asking costs O(mappings) (every line of /proc/self/maps). The
// pool keeps an estimate instead: the count at its last read plus every mapping it added since. It reads again
// only when it is about to add mappings and either the estimate is within a read interval of the reserve, or it
// has added a read interval's worth of mappings since the last read. The interval is a quarter of the reserve, so
// whatever other components did meanwhile, the pool never takes more than a quarter of the reserve unseen.
// Far from the limit that is one read per 64 mappings added (default reserve 256); near it, one per addition.
internal partial class Arena
{
    // Written under the lock.
    private int _processMappingsAtRead = -1;
    private int _addedSinceRead;
    public long ProcessMappingReads;
    public long DeclinedByMappingReserve;

    /// <summary>How many mappings the pool may add between reads of the process's count (a quarter of the reserve).</summary>
    private int ReadInterval => Math.Max(1, Settings.MappingReserve / 4);

    /// <summary>
    /// Whether the process keeps at least the reserve after the pool adds <paramref name="added"/> mappings.
    /// Reads the process's count (O(mappings)) only when the estimate is near the reserve or stale. Called under the lock.
    /// </summary>
    private bool FitsReserve(int added)
    {
        long max = _os.MaxMapCount;
        if (added <= 0 || Settings.MappingReserve == 0 || max < 0)
            return true;
        int interval = ReadInterval;
        bool stale = _processMappingsAtRead < 0 || _addedSinceRead + added > interval;
        bool near = max - (_processMappingsAtRead + _addedSinceRead + added) < Settings.MappingReserve + interval;
        if (stale || near)
            ReadProcessMappings();
        if (_processMappingsAtRead < 0)
            return true; // the kernel cannot be asked (no /proc): only the budget applies
        return max - (_processMappingsAtRead + _addedSinceRead + added) >= Settings.MappingReserve;
    }

    /// <summary>
    /// <see cref="FitsReserve"/>, and when it does not fit, consolidates (which can give mappings back) and asks
    /// again. Counts a refusal. Called under the lock, before every operation that adds mappings.
    /// </summary>
    private bool FitsReserveAfterConsolidating(int added)
    {
        if (FitsReserve(added))
            return true;
        int before = CountKernelMappings();
        Consolidate();
        if (CountKernelMappings() < before)
        {
            ReadProcessMappings();
            if (FitsReserve(added))
                return true;
        }
        DeclinedByMappingReserve++;
        return false;
    }

    /// <summary>Records mappings the pool just added, for the estimate. Called under the lock.</summary>
    private void NoteAdded(int added)
    {
        if (added > 0)
            _addedSinceRead += added;
    }

    private void ReadProcessMappings()
    {
        _processMappingsAtRead = _os.CountProcessMappings();
        _addedSinceRead = 0;
        ProcessMappingReads++;
    }

    private string DescribeReserveRefusal(long bytes) =>
        $"The pool declined to map {bytes} bytes: that needs a new kernel mapping, and the process has " +
        $"{_processMappingsAtRead} mappings of vm.max_map_count = {_os.MaxMapCount}, so fewer than the mapping reserve of " +
        $"{Settings.MappingReserve} would be left for the runtime and the rest of the process (threads, GC heap, JIT code). " +
        $"The pool owns {CountKernelMappings()} of them. Return buffers and call Trim(), release other mappings, raise the limit " +
        $"(sysctl vm.max_map_count), or lower NativePoolOptions.MappingReserve (NATIVEARRAYPOOL_MAPPINGRESERVE).";
}
