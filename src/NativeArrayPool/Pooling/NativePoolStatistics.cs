namespace NativeBuffers;

/// <summary>
/// A snapshot of a pool's counters. Counters are gathered from every thread without stopping them, so a
/// snapshot taken while other threads rent and return is approximate; once they are quiet it is exact:
/// <c>Rents − Returns</c> leases are out, and <see cref="InUseBytes"/> is the sum of their capacities.
/// </summary>
public readonly record struct NativePoolStatistics
{
    /// <summary>Address space the pool has mapped: reservations plus detached mappings. Untouched pages cost no memory.</summary>
    public long MappedBytes { get; init; }

    /// <summary>Bytes of the buffers currently rented (their capacities, which are at least what was asked for).</summary>
    public long InUseBytes { get; init; }

    /// <summary>Kernel mappings (VMAs) the pool owns, by its model of what the kernel merges.</summary>
    public int KernelMappings { get; init; }

    /// <summary>The most kernel mappings the pool has owned at once.</summary>
    public long PeakKernelMappings { get; init; }

    /// <summary>The mapping budget in force (<see cref="NativePoolOptions.MappingBudget"/> resolved).</summary>
    public int MappingBudget { get; init; }

    /// <summary>The mapping reserve in force (<see cref="NativePoolOptions.MappingReserve"/>): mappings left to the rest of the process.</summary>
    public int MappingReserve { get; init; }

    /// <summary>
    /// Page moves declined, and rents refused, because they would have left the process fewer free kernel mappings
    /// than <see cref="MappingReserve"/>.
    /// </summary>
    public long DeclinedByMappingReserve { get; init; }

    /// <summary>How many times the pool counted the process's mappings (each an O(mappings) read of <c>/proc/self/maps</c>).</summary>
    public long ProcessMappingReads { get; init; }

    /// <summary>Reservations currently mapped.</summary>
    public int Reservations { get; init; }

    /// <summary>Buffers that live in mappings of their own after a plain mremap move.</summary>
    public int DetachedMappings { get; init; }

    /// <summary>Successful rents (empty rents of length 0 not included).</summary>
    public long Rents { get; init; }

    /// <summary>Bytes handed out by successful rents, counted at their capacities, since the pool was created (growth not included).</summary>
    public long BytesRented { get; init; }

    /// <summary>Successful returns.</summary>
    public long Returns { get; init; }

    /// <summary>Growths served in place: the buffer's free neighbours were absorbed, no syscall, no copy.</summary>
    public long GrowsInPlace { get; init; }

    /// <summary>Growths that moved pages with <c>mremap(MREMAP_MAYMOVE|MREMAP_FIXED)</c> into the pool's own address space.</summary>
    public long GrowsRemappedFixed { get; init; }

    /// <summary>Growths that moved pages with plain <c>mremap(MREMAP_MAYMOVE)</c>.</summary>
    public long GrowsRemapped { get; init; }

    /// <summary>Growths that copied into a new block.</summary>
    public long GrowsCopied { get; init; }

    /// <summary>Bytes copied by growth and shrinking.</summary>
    public long BytesCopied { get; init; }

    /// <summary>Page moves not attempted because the mapping budget would have been exceeded.</summary>
    public long MovesDeclinedByBudget { get; init; }

    /// <summary>Page moves the kernel refused (the next path then served the growth).</summary>
    public long MovesFailed { get; init; }

    /// <summary>
    /// Misuse detected and reported with an exception: double returns, returns of stale, default, forged or
    /// foreign leases, and resizes of such leases. The pool is unchanged by each of them.
    /// </summary>
    public long MisuseDetected { get; init; }

    /// <summary>
    /// <c>Dispose</c> calls on leases that had already ended (a second Dispose, or Dispose after Return or Resize),
    /// which do nothing, as <see cref="IDisposable"/> allows: the lease's generation has moved on, so no later lease
    /// can be harmed. An explicit <c>Return</c> of such a lease still throws and counts in <see cref="MisuseDetected"/>.
    /// </summary>
    public long RedundantDisposes { get; init; }

    /// <summary>Trims run: explicit <c>Trim()</c> calls, trims on memory pressure, and idle trims that gave pages back.</summary>
    public long Trims { get; init; }

    /// <summary>Trims run because a full GC saw high memory load (<see cref="NativePoolOptions.TrimOnMemoryPressure"/>); included in <see cref="Trims"/>.</summary>
    public long PressureTrims { get; init; }

    /// <summary>Bytes of free memory whose pages were given back to the OS (madvise) by trims, over the pool's life.</summary>
    public long BytesDiscarded { get; init; }

    /// <summary>Leases out according to the lease table; 0 unless <see cref="NativePoolOptions.TrackLeases"/> or <see cref="NativePoolOptions.Guarded"/>.</summary>
    public int TrackedLeases { get; init; }

    /// <summary>Leases reported as leaked: still out when a pool with <see cref="NativePoolOptions.TrackLeases"/> (or guarded mode) was disposed.</summary>
    public long LeaksReported { get; init; }

    /// <summary>Bytes of the leases in <see cref="LeaksReported"/>.</summary>
    public long LeakedBytes { get; init; }

    /// <summary>Writes to returned buffers found by the guarded mode's pattern check (<see cref="StaleWriteException"/>).</summary>
    public long StaleWritesDetected { get; init; }

    /// <summary>Returned buffers, and ranges a resize vacated, waiting in the guarded mode's quarantine.</summary>
    public int QuarantinedBuffers { get; init; }

    /// <summary>Capacity of the <see cref="QuarantinedBuffers"/>, in bytes: at most <see cref="NativePoolOptions.QuarantineBytes"/>, or the one newest buffer when it alone is larger.</summary>
    public long QuarantinedBytes { get; init; }

    /// <summary>
    /// Quarantined buffers made inaccessible with mprotect. Each is charged two kernel mappings (the most that
    /// splitting its reservation's VMA adds) in <see cref="KernelMappings"/>, within half of <see cref="MappingBudget"/>.
    /// </summary>
    public int ProtectedBuffers { get; init; }

    /// <summary>The virtual-memory layer in use ("linux", "portable").</summary>
    public string Backend { get; init; }

    /// <summary>
    /// These counters together with <paramref name="other"/>'s, as one figure for several pools (a factory's): every
    /// counter is summed except <see cref="MappingReserve"/>, which every pool keeps for the same process, so the
    /// largest is the reserve in force; <see cref="Backend"/> is <paramref name="other"/>'s. A property added to this
    /// type needs a line here (NativePoolStatisticsTests checks every one by reflection).
    /// </summary>
    internal NativePoolStatistics Combine(NativePoolStatistics other) => this with
    {
        MappedBytes = MappedBytes + other.MappedBytes,
        InUseBytes = InUseBytes + other.InUseBytes,
        KernelMappings = KernelMappings + other.KernelMappings,
        PeakKernelMappings = PeakKernelMappings + other.PeakKernelMappings,
        MappingBudget = MappingBudget + other.MappingBudget,
        MappingReserve = Math.Max(MappingReserve, other.MappingReserve),
        DeclinedByMappingReserve = DeclinedByMappingReserve + other.DeclinedByMappingReserve,
        ProcessMappingReads = ProcessMappingReads + other.ProcessMappingReads,
        Reservations = Reservations + other.Reservations,
        DetachedMappings = DetachedMappings + other.DetachedMappings,
        Rents = Rents + other.Rents,
        BytesRented = BytesRented + other.BytesRented,
        Returns = Returns + other.Returns,
        GrowsInPlace = GrowsInPlace + other.GrowsInPlace,
        GrowsRemappedFixed = GrowsRemappedFixed + other.GrowsRemappedFixed,
        GrowsRemapped = GrowsRemapped + other.GrowsRemapped,
        GrowsCopied = GrowsCopied + other.GrowsCopied,
        BytesCopied = BytesCopied + other.BytesCopied,
        MovesDeclinedByBudget = MovesDeclinedByBudget + other.MovesDeclinedByBudget,
        MovesFailed = MovesFailed + other.MovesFailed,
        MisuseDetected = MisuseDetected + other.MisuseDetected,
        RedundantDisposes = RedundantDisposes + other.RedundantDisposes,
        Trims = Trims + other.Trims,
        PressureTrims = PressureTrims + other.PressureTrims,
        BytesDiscarded = BytesDiscarded + other.BytesDiscarded,
        TrackedLeases = TrackedLeases + other.TrackedLeases,
        LeaksReported = LeaksReported + other.LeaksReported,
        LeakedBytes = LeakedBytes + other.LeakedBytes,
        StaleWritesDetected = StaleWritesDetected + other.StaleWritesDetected,
        QuarantinedBuffers = QuarantinedBuffers + other.QuarantinedBuffers,
        QuarantinedBytes = QuarantinedBytes + other.QuarantinedBytes,
        ProtectedBuffers = ProtectedBuffers + other.ProtectedBuffers,
        Backend = other.Backend,
    };
}
