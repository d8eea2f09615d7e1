using System.Numerics;
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
    public int ReservationsPerSize { get; set; } = 4;

    /// <summary>Size of the first reservation of each space, in bytes.</summary>
    /// <remarks>Default 8 MiB. A power of two from 2 MiB to 1 GiB.</remarks>
    public long MinimumReservationBytes { get; set; } = 8L << 20;

    /// <summary>Buffers at least this large grow by moving pages (mremap) rather than by copying.</summary>
    /// <remarks>Default <see cref="DefaultRemapThresholdBytes"/>. A power of two from 4 KiB to 1 TiB.</remarks>
    public long RemapThresholdBytes { get; set; } = DefaultRemapThresholdBytes;

    /// <summary>
    /// The most kernel mappings (VMAs) the pool means to own. Page moves that would exceed it are declined
    /// (the buffer is copied instead), after the pool has tried to consolidate. 0 means 1 % of
    /// <c>vm.max_map_count</c> (655 with the kernel default), at least 64.
    /// </summary>
    /// <remarks>Default 0 (automatic). Range 0–1,000,000.</remarks>
    public int MappingBudget { get; set; }

    /// <summary>Advise transparent huge pages (<c>MADV_HUGEPAGE</c>) for huge classes (2 MiB and larger).</summary>
    /// <remarks>Default true. Cuts first-touch page faults about sixfold on the reference machine.</remarks>
    public bool TransparentHugePages { get; set; } = true;

    /// <summary>Which growth paths <see cref="NativeArrayPool{T}.Resize"/> may take, in their fixed order.</summary>
    /// <remarks>Default <see cref="NativeBuffers.GrowthPaths.All"/>.</remarks>
    public GrowthPaths GrowthPaths { get; set; } = GrowthPaths.All;

    /// <summary>The virtual-memory layer.</summary>
    /// <remarks>Default <see cref="MemoryBackend.Automatic"/>.</remarks>
    public MemoryBackend Backend { get; set; } = MemoryBackend.Automatic;

    /// <summary>Keep recently returned buffers in per-thread caches, so the common Rent and Return take no lock.</summary>
    /// <remarks>Default true.</remarks>
    public bool ThreadCaches { get; set; } = true;

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

    /// <summary>Test hook: a virtual-memory layer to use instead of <see cref="Backend"/> (fault injection).</summary>
    internal VirtualMemory? VirtualMemoryOverride { get; set; }

    /// <summary>A copy with the same settings.</summary>
    public NativePoolOptions Clone() => (NativePoolOptions)MemberwiseClone();

    internal ArenaSettings ToArenaSettings()
    {
        if (ReservationsPerSize is < 1 or > 64)
            ThrowHelper.ThrowInvalidOptions($"{nameof(ReservationsPerSize)} is {ReservationsPerSize}; it must be between 1 and 64.");
        if (!BitOperations.IsPow2(MinimumReservationBytes) || MinimumReservationBytes < 2L << 20 || MinimumReservationBytes > 1L << 30)
            ThrowHelper.ThrowInvalidOptions($"{nameof(MinimumReservationBytes)} is {MinimumReservationBytes}; it must be a power of two from 2 MiB to 1 GiB.");
        if (!BitOperations.IsPow2(RemapThresholdBytes) || RemapThresholdBytes < SizeClasses.PageSize || RemapThresholdBytes > 1L << 40)
            ThrowHelper.ThrowInvalidOptions($"{nameof(RemapThresholdBytes)} is {RemapThresholdBytes}; it must be a power of two from 4096 to 2^40.");
        if (MappingBudget is < 0 or > 1_000_000)
            ThrowHelper.ThrowInvalidOptions($"{nameof(MappingBudget)} is {MappingBudget}; it must be between 0 (automatic) and 1,000,000.");
        if ((GrowthPaths & ~GrowthPaths.All) != 0)
            ThrowHelper.ThrowInvalidOptions($"{nameof(GrowthPaths)} has unknown flags ({(int)GrowthPaths}); combine values of the GrowthPaths enum.");
        if (!Enum.IsDefined(Backend))
            ThrowHelper.ThrowInvalidOptions($"{nameof(Backend)} is {(int)Backend}, not a MemoryBackend value.");

        VirtualMemory os = VirtualMemoryOverride ?? Backend switch
        {
            MemoryBackend.Portable => PortableVirtualMemory.Instance,
            MemoryBackend.Linux => OperatingSystem.IsLinux() && LinuxVirtualMemory.IsAvailable()
                ? LinuxVirtualMemory.Instance
                : throw new PlatformNotSupportedException("MemoryBackend.Linux needs Linux with mremap. Use MemoryBackend.Automatic or Portable."),
            _ => VirtualMemory.ForCurrentPlatform(),
        };
        int budget = MappingBudget != 0 ? MappingBudget : (int)Math.Max(64, ProcessMemory.ReadMaxMapCount() / 100);
        return new ArenaSettings(os, ReservationsPerSize, MinimumReservationBytes, RemapThresholdBytes, budget, TransparentHugePages, GrowthPaths);
    }
}
