using NativeBuffers.Arenas;
using NativeBuffers.Os;
using NativeBuffers.Pooling;

namespace NativeBuffers;

/// <summary>
/// Settings for a pool made with <see cref="NativeArrayPool{T}.Create(NativePoolOptions)"/> or
/// <c>NativeMemoryPool</c>. Every property has a documented default; the pool validates them once, when
/// it is created, and copies them, so changing an options object later does not affect existing pools.
/// </summary>
/// <remarks>Not thread-safe: configure an instance on one thread, then hand it to a pool.</remarks>
public sealed class NativePoolOptions
{
    /// <summary>Default for <see cref="RemapThresholdBytes"/>: measured crossover on the reference machine (see docs/design.md).</summary>
    public const long DefaultRemapThresholdBytes = 1L << 20;

    /// <summary>
    /// K in Kuszmaul's schedule: how many reservations of one size are mapped before the size doubles.
    /// Address space is then at most (1+K)/K of what is used, and N units take O(K·log N) kernel mappings.
    /// </summary>
    /// <remarks>Default 4: at most 25 % unused address space (which costs no memory, as pages are only
    /// committed when touched), and about 4 mappings per doubling of the pool's size. Range 1–64.</remarks>
    public int ReservationsPerSize { get; set; } = (int)OptionTable.ReservationsPerSize.Default;

    /// <summary>Size of the first reservation of each space, in bytes.</summary>
    /// <remarks>Default 8 MiB. A power of two from 2 MiB to 1 GiB.</remarks>
    public long MinimumReservationBytes { get; set; } = OptionTable.MinimumReservationBytes.Default;

    /// <summary>Buffers at least this large grow by moving pages (mremap) rather than by copying.</summary>
    /// <remarks>Default <see cref="DefaultRemapThresholdBytes"/>. A power of two from 4 KiB to 1 TiB.</remarks>
    public long RemapThresholdBytes { get; set; } = OptionTable.RemapThresholdBytes.Default;

    /// <summary>
    /// The most kernel mappings (VMAs) the pool means to own. Page moves that would exceed it are declined
    /// (the buffer is copied instead), after the pool has tried to consolidate. 0 means 1 % of
    /// <c>vm.max_map_count</c> (655 with the kernel default), at least 64. Reservations, which rents and copies
    /// need, are made even above it (refusing one would fail the rent); then no move is made until the count falls.
    /// </summary>
    /// <remarks>Default 0 (automatic). Range 0–1,000,000.</remarks>
    public int MappingBudget { get; set; } = (int)OptionTable.MappingBudget.Default;

    /// <summary>Default for <see cref="MappingReserve"/>: over three times what the runtime was measured to need (docs/growth.md).</summary>
    public const int DefaultMappingReserve = 256;

    /// <summary>
    /// Kernel mappings the pool leaves to the rest of the process below <c>vm.max_map_count</c>. The runtime needs
    /// mappings of its own (thread stacks, GC heap regions, JIT code, which W^X maps twice) and dies when it cannot
    /// get them, so the pool adds no mapping that would leave fewer than this many: page moves are declined (growth
    /// copies within the pool's own space) and a rent that needs a new reservation throws
    /// <see cref="InsufficientMemoryException"/>, whose message gives vm.max_map_count, the process's count, the reserve
    /// and the pool's own count. To know the process's count the pool reads <c>/proc/self/maps</c>, which costs
    /// O(mappings): only when it is about to add mappings and its estimate is within a quarter of the reserve of
    /// the limit, or it has added a quarter of the reserve since the last read (docs/growth.md gives the cost).
    /// 0 turns the reserve off. Only the Linux backend has it; the portable layer's memory is not counted.
    /// </summary>
    /// <remarks>Default <see cref="DefaultMappingReserve"/>. Range 0–1,000,000.</remarks>
    public int MappingReserve { get; set; } = (int)OptionTable.MappingReserve.Default;

    /// <summary>Advise transparent huge pages (<c>MADV_HUGEPAGE</c>) for huge classes (2 MiB and larger).</summary>
    /// <remarks>Default true. Cuts first-touch page faults about sixfold on the reference machine.</remarks>
    public bool TransparentHugePages { get; set; } = OptionTable.TransparentHugePages.Default;

    /// <summary>Which growth paths <see cref="NativeArrayPool{T}.Resize"/> may take, in their fixed order.</summary>
    /// <remarks>Default <see cref="NativeBuffers.GrowthPaths.All"/>.</remarks>
    public GrowthPaths GrowthPaths { get; set; } = OptionTable.GrowthPaths.Default;

    /// <summary>The virtual-memory layer.</summary>
    /// <remarks>Default <see cref="MemoryBackend.Automatic"/>: the layer the environment variable
    /// <c>NATIVEARRAYPOOL_BACKEND</c> names (<c>Linux</c> or <c>Portable</c>) for every pool in the process, or the
    /// platform's own when it is unset. A malformed value makes creating such a pool throw <see cref="ArgumentException"/>.</remarks>
    public MemoryBackend Backend { get; set; } = OptionTable.Backend.Default;

    /// <summary>Keep recently returned buffers in per-thread caches, so the common Rent and Return take no lock.</summary>
    /// <remarks>Default true.</remarks>
    public bool ThreadCaches { get; set; } = OptionTable.ThreadCaches.Default;

    /// <summary>
    /// A name for the pool in metrics (the <c>pool.name</c> tag) and events. Null gives <c>pool-N</c>; the
    /// shared pool is always called <c>shared</c>.
    /// </summary>
    /// <remarks>Default null. Not read from the environment.</remarks>
    public string? Name { get; set; }

    /// <summary>
    /// Options with defaults overridden by the environment variables <c>NATIVEARRAYPOOL_&lt;PROPERTY&gt;</c>
    /// (for example <c>NATIVEARRAYPOOL_MAPPINGBUDGET=2000</c>, <c>NATIVEARRAYPOOL_REMAPTHRESHOLDBYTES=1M</c>,
    /// <c>NATIVEARRAYPOOL_GROWTHPATHS=InPlace,Copy</c>). The shared pool is configured this way. Unset or empty
    /// variables keep the default; docs/options.md lists every variable and its format.
    /// </summary>
    /// <exception cref="ArgumentException">A variable is malformed or out of range; the message and
    /// <see cref="ArgumentException.ParamName"/> name it.</exception>
    public static NativePoolOptions FromEnvironment() => EnvironmentOptions.Read(Environment.GetEnvironmentVariable);

    /// <summary>Test hook: <see cref="FromEnvironment()"/> with a lookup in place of the process environment.</summary>
    internal static NativePoolOptions FromEnvironment(Func<string, string?> lookup) => EnvironmentOptions.Read(lookup);

    /// <summary>
    /// Hand out zeroed memory: every buffer <c>Rent</c> returns reads zero, and so does the part a
    /// <c>Resize</c> adds. Buffers of 16 MiB and up are zeroed by giving their pages back to the OS (fresh pages
    /// read zero, and are only committed when touched), smaller ones with a memset, which measured cheaper when
    /// the tenant writes the whole buffer; the part a resize adds by moving pages is already fresh zero pages.
    /// </summary>
    /// <remarks>Default false (like ArrayPool, contents are not cleared). With it, returned buffers are cleared as
    /// they go back, so the per-thread caches only hold zeroed memory and a cache hit costs nothing extra.</remarks>
    public bool ZeroOnRent { get; set; } = OptionTable.ZeroOnRent.Default;

    /// <summary>
    /// Detect a return that races another return (or a resize) of the same lease on another thread. Without it, the
    /// pool detects every misuse that is ordered: a second <c>Return</c> after the first (a return in <c>finally</c>
    /// and again later), a return of a stale lease (one that was resized), of <c>default</c> or of another pool's
    /// lease, each with an exception and the pool unchanged. Two returns of one lease that run at the same moment on
    /// two threads can then both pass; with this option exactly one passes and the other throws.
    /// </summary>
    /// <remarks>Default false: the check of an ordered return is a plain load and store, as glibc's tcache checks
    /// a free. On costs a locked compare-and-swap per return (about 8–10 ns on the reference VM: more than a whole
    /// <c>ArrayPool&lt;T&gt;.Shared</c> Rent+Return; see docs/benchmarks.md). <see cref="Guarded"/> turns it on.
    /// <c>ArrayPool&lt;T&gt;</c> detects neither kind: a double return there hands one array to two renters.</remarks>
    public bool DetectRacingReturns { get; set; } = OptionTable.DetectRacingReturns.Default;

    /// <summary>
    /// Guarded mode, for debugging use-after-return: returned buffers, and the memory a <c>Resize</c> moves away
    /// from, wait in a first-in first-out quarantine of <see cref="QuarantineBytes"/> that rents never take from.
    /// Buffers of a page (4 KiB) and up are made inaccessible on Linux (<c>mprotect(PROT_NONE)</c>), so a stale write
    /// through a span, a pointer or a <see cref="Memory{T}"/>'s pin faults at the moment it happens; smaller ones
    /// (which share their pages) are filled with a pattern (0xDB) that is checked when they leave the quarantine
    /// (evicted by newer ones, or on Trim), and a mismatch throws <see cref="StaleWriteException"/> from that
    /// Return or Trim. Implies <see cref="TrackLeases"/>.
    /// </summary>
    /// <remarks>Default false. Costs an mprotect and a page discard (or a memset) per return, another mprotect (or a
    /// scan) when the buffer leaves the quarantine, and page faults when its memory is used again; bypasses the
    /// per-thread caches. Each protected buffer is charged two kernel mappings (the most that splitting its
    /// reservation's mapping adds) against <see cref="MappingBudget"/>, up to half of it; beyond that, buffers are
    /// poisoned instead. A block that shrinks keeps all its pages. Not for production.</remarks>
    public bool Guarded { get; set; } = OptionTable.Guarded.Default;

    /// <summary>Default for <see cref="QuarantineBytes"/>: 64 MiB.</summary>
    public const long DefaultQuarantineBytes = 64L << 20;

    /// <summary>
    /// The guarded mode's quarantine budget: the total capacity of returned buffers (and vacated ranges) that wait
    /// before their memory may be rented again. A stale write is caught, at the write or when the buffer leaves,
    /// while its buffer is among the most recently returned this many bytes; the oldest leave first. The newest
    /// buffer always stays until the next return, however large. Ignored unless <see cref="Guarded"/>.
    /// </summary>
    /// <remarks>Default <see cref="DefaultQuarantineBytes"/> (64 MiB). Range 0 to 2^40. Protected buffers cost
    /// address space, not memory (their pages are discarded); poisoned ones (below a page, or when protection is
    /// refused) stay resident. The quarantine also holds at most 65,536 buffers.</remarks>
    public long QuarantineBytes { get; set; } = OptionTable.QuarantineBytes.Default;

    /// <summary>
    /// Keep a table of the leases that are out, so leaks can be found: <c>GetLiveLeases()</c> lists them with
    /// their size (and rent stack with <see cref="CaptureRentStackTraces"/>), and disposing the pool reports
    /// every lease still out to <see cref="LeakReported"/> and counts it in the statistics.
    /// </summary>
    /// <remarks>Default false. Costs a dictionary update per rent and return and bypasses the per-thread caches.</remarks>
    public bool TrackLeases { get; set; } = OptionTable.TrackLeases.Default;

    /// <summary>
    /// Record a stack trace at every rent, return and resize: leak reports and stale-write reports then say where
    /// the buffer was rented, and a double return says where the lease was first returned (or replaced by Resize).
    /// Needs <see cref="TrackLeases"/> or <see cref="Guarded"/>.
    /// </summary>
    /// <remarks>Default false. Expensive (microseconds per call): for debugging only.</remarks>
    public bool CaptureRentStackTraces { get; set; } = OptionTable.CaptureRentStackTraces.Default;

    /// <summary>
    /// Called once for every leaked lease: with <see cref="TrackLeases"/>, for each lease still out when the pool
    /// is disposed. Runs on the thread that disposes the pool; exceptions it throws are not caught.
    /// </summary>
    /// <remarks>Default null (leaks are only counted, in <see cref="NativePoolStatistics.LeaksReported"/>).</remarks>
    public Action<NativeLeaseInfo>? LeakReported { get; set; }

    /// <summary>
    /// Give the pages of free memory back to the OS once it has not been used for this long (like Kestrel's
    /// idle eviction). The address space stays reserved; the next use faults in zero pages.
    /// <see cref="Timeout.InfiniteTimeSpan"/> or <see cref="TimeSpan.Zero"/> turns it off; otherwise from 1 ms to 24 h.
    /// </summary>
    /// <remarks>Default 10 seconds. A timer checks every half of this period; it does not keep the pool alive.
    /// Memory in other threads' caches is flushed on their next cache miss, not by the timer.</remarks>
    public TimeSpan IdleTrimDelay { get; set; } = OptionTable.IdleTrimDelay.Default;

    /// <summary>
    /// Trim after a full (generation 2) garbage collection when the machine's memory load is high (at least
    /// the GC's high-memory-load threshold), like ArrayPool.Shared: free pages are given back to the OS and
    /// every thread's cache is asked to flush.
    /// </summary>
    /// <remarks>Default true.</remarks>
    public bool TrimOnMemoryPressure { get; set; } = OptionTable.TrimOnMemoryPressure.Default;

    /// <summary>Test hook: a virtual-memory layer to use instead of <see cref="Backend"/> (fault injection).</summary>
    internal VirtualMemory? VirtualMemoryOverride { get; set; }

    /// <summary>Test hook: the clock and timers of idle trimming.</summary>
    internal TimeProvider? TimeProviderOverride { get; set; }

    /// <summary>Test hook: replaces the memory-load test of <see cref="TrimOnMemoryPressure"/>.</summary>
    internal Func<bool>? MemoryPressureOverride { get; set; }

    /// <summary>
    /// Every setting, for logs: <c>NativePoolOptions { Name = batch, Backend = Automatic, ThreadCaches = True, … }</c>.
    /// A <see cref="MappingBudget"/> of 0 shows as automatic; <see cref="QuarantineBytes"/> shows only when
    /// <see cref="Guarded"/> is set, as nothing else reads it.
    /// </summary>
    public override string ToString()
    {
        string budget = MappingBudget == 0 ? "automatic (1 % of vm.max_map_count)" : MappingBudget.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string quarantine = Guarded ? $", QuarantineBytes = {QuarantineBytes}" : "";
        return string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"NativePoolOptions {{ Name = {Name ?? "(pool-N)"}, Backend = {Backend}, ThreadCaches = {ThreadCaches}, " +
            $"Guarded = {Guarded}{quarantine}, TrackLeases = {TrackLeases}, ZeroOnRent = {ZeroOnRent}, " +
            $"MappingBudget = {budget}, MappingReserve = {MappingReserve}, ReservationsPerSize = {ReservationsPerSize}, " +
            $"MinimumReservationBytes = {MinimumReservationBytes}, RemapThresholdBytes = {RemapThresholdBytes}, GrowthPaths = {GrowthPaths}, " +
            $"TransparentHugePages = {TransparentHugePages}, IdleTrimDelay = {IdleTrimDelay}, TrimOnMemoryPressure = {TrimOnMemoryPressure} }}");
    }

    // IdleTrimDelay's range, in code and in the environment, besides zero and Timeout.InfiniteTimeSpan (off).
    internal static readonly TimeSpan MinIdleTrimDelay = TimeSpan.FromMilliseconds(1);
    internal static readonly TimeSpan MaxIdleTrimDelay = TimeSpan.FromHours(24);

    /// <summary>A copy with the same settings.</summary>
    public NativePoolOptions Clone() => (NativePoolOptions)MemberwiseClone();

    internal ArenaSettings ToArenaSettings()
    {
        // The ranges are the rows of OptionTable, which the environment's parser checks too.
        foreach (NumericOption option in OptionTable.Numeric)
            option.Validate(this);
        if ((GrowthPaths & ~GrowthPaths.All) != 0)
            ThrowHelper.ThrowInvalidOptions($"{nameof(GrowthPaths)} has unknown flags ({(int)GrowthPaths}); combine values of the GrowthPaths enum.");
        // The environment's parser takes the same range: a timer period (half the delay) under half a millisecond
        // would be zero, which fires once and never again.
        if (IdleTrimDelay != TimeSpan.Zero && IdleTrimDelay != Timeout.InfiniteTimeSpan
            && (IdleTrimDelay < MinIdleTrimDelay || IdleTrimDelay > MaxIdleTrimDelay))
            ThrowHelper.ThrowInvalidOptions($"{nameof(IdleTrimDelay)} is {IdleTrimDelay}; it must be {OptionTable.IdleTrimDelay.Allowed}.");
        if (CaptureRentStackTraces && !TrackLeases && !Guarded)
            ThrowHelper.ThrowInvalidOptions($"{nameof(CaptureRentStackTraces)} needs {nameof(TrackLeases)} or {nameof(Guarded)}: stack traces are kept in the lease table.");
        if (!Enum.IsDefined(Backend))
            ThrowHelper.ThrowInvalidOptions($"{nameof(Backend)} is {(int)Backend}, not a MemoryBackend value.");

        // Automatic defers to the environment, so one variable moves a whole process (and the test suite) to a layer.
        MemoryBackend backend = Backend == MemoryBackend.Automatic ? EnvironmentOptions.ReadBackend(Environment.GetEnvironmentVariable) : Backend;
        VirtualMemory os = VirtualMemoryOverride ?? backend switch
        {
            MemoryBackend.Portable => PortableVirtualMemory.Instance,
            MemoryBackend.Linux => OperatingSystem.IsLinux() && LinuxVirtualMemory.IsAvailable()
                ? LinuxVirtualMemory.Instance
                : throw new PlatformNotSupportedException("MemoryBackend.Linux needs Linux with mremap. Use MemoryBackend.Automatic or Portable."),
            _ => VirtualMemory.ForCurrentPlatform(),
        };
        long maxMapCount = os.MaxMapCount >= 0 ? os.MaxMapCount : VirtualMemory.DefaultMaxMapCount;
        int budget = MappingBudget != 0 ? MappingBudget : (int)Math.Max(64, maxMapCount / 100);
        return new ArenaSettings(os, ReservationsPerSize, MinimumReservationBytes, RemapThresholdBytes, budget, MappingReserve, TransparentHugePages, GrowthPaths);
    }
}
