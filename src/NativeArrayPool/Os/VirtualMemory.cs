namespace NativeBuffers.Os;

/// <summary>
/// The virtual-memory primitives the arenas are built on, in the shape of mimalloc's prim layer: every
/// address and length is page aligned and non-zero, and every call returns an <see cref="OsError"/> where
/// success is 0. Implementations never throw and never decide policy.
/// </summary>
/// <remarks>
/// Vocabulary used by the contract:
/// <list type="bullet">
/// <item><b>reservation</b>: a range mapped read-write by <see cref="Reserve"/>; pages cost nothing until touched.</item>
/// <item><b>fresh</b>: a range whose pages were (re)mapped by this layer and never moved in from elsewhere;
/// on Linux fresh neighbours merge into one kernel mapping (VMA).</item>
/// <item><b>island</b>: pages that arrived by a move; the kernel keeps them as their own VMA.</item>
/// <item><b>hole</b>: a range the caller owns that is unmapped for now: vacated by a move, or a destination that a
/// failed move unmapped. <see cref="FillHole"/> maps it again.</item>
/// <item><b>move</b>: pages changing address (mremap), never bytes being copied; <see cref="Copy"/> copies bytes.</item>
/// </list>
/// Thread-safety: implementations are stateless or internally synchronized; callers own the ranges they pass.
/// </remarks>
internal abstract class VirtualMemory
{
    /// <summary>Short name for diagnostics ("linux", "portable").</summary>
    public abstract string Name { get; }

    /// <summary>The OS page size; every address and length passed in is a multiple of it.</summary>
    public abstract nuint PageSize { get; }

    /// <summary>Whether <see cref="MoveInto"/> and <see cref="Move"/> can succeed (mremap exists).</summary>
    public abstract bool CanMovePages { get; }

    /// <summary>Whether <see cref="Discard"/> and <see cref="ReplaceWithFreshPages"/> leave zeros behind (fresh anonymous pages).</summary>
    public abstract bool DiscardedPagesReadZero { get; }

    /// <summary>
    /// Maps <paramref name="length"/> bytes read-write, aligned to <paramref name="alignment"/> (a power of two ≥ page),
    /// as one mapping that touches no other mapping when it is made (on Linux an unmapped page stays on either side,
    /// so the kernel never merges two reservations into one VMA).
    /// </summary>
    public abstract OsError Reserve(nuint length, nuint alignment, bool hugePages, out nint address);

    /// <summary>Unmaps a range this layer mapped (a whole reservation, a part of one, or a moved range).</summary>
    public abstract OsError Release(nint address, nuint length);

    /// <summary>
    /// Replaces the pages of a range the caller still has mapped with fresh ones (MAP_FIXED: whatever is there is
    /// replaced); contents are discarded. The arena does this to an island it frees, so the range merges back into its
    /// reservation's mapping. Never call it on a hole: there it would replace a mapping someone else made.
    /// </summary>
    public abstract OsError ReplaceWithFreshPages(nint address, nuint length, bool hugePages);

    /// <summary>
    /// Maps fresh pages into a hole: a range the caller just vacated (after a move, or after a failed move that
    /// unmapped its destination), never replacing anything mapped there (MAP_FIXED_NOREPLACE): returns
    /// <see cref="OsError.Exists"/> when some of the range is occupied, by someone else's mapping or by our own.
    /// </summary>
    public abstract OsError FillHole(nint address, nuint length, bool hugePages);

    /// <summary>
    /// Moves the pages of [source, source+sourceLength) to <paramref name="destination"/>, growing the range to
    /// <paramref name="destinationLength"/> (mremap MAYMOVE|FIXED). On success the source range is unmapped.
    /// On failure the source is intact but the destination may have been unmapped: the caller fills that hole (<see cref="FillHole"/>).
    /// With <paramref name="hugePages"/> the moved range is advised for huge pages afterwards (best effort).
    /// </summary>
    public abstract OsError MoveInto(nint source, nuint sourceLength, nint destination, nuint destinationLength, bool hugePages);

    /// <summary>
    /// Grows [source, source+sourceLength) to <paramref name="newLength"/>, letting the kernel pick the place
    /// (mremap MAYMOVE). It may grow in place (same address) when the range ends its mapping and the next
    /// addresses are free. On success the old range is unmapped unless the address is unchanged.
    /// </summary>
    public abstract OsError Move(nint source, nuint sourceLength, nuint newLength, out nint newAddress);

    /// <summary>Gives the pages back to the OS (MADV_DONTNEED); the range stays mapped and usable.</summary>
    public abstract OsError Discard(nint address, nuint length);

    /// <summary>Makes a range inaccessible or read-write again (mprotect); used by the guarded mode.</summary>
    public abstract OsError Protect(nint address, nuint length, bool accessible);

    /// <summary>Copies bytes between two ranges that do not overlap. Cannot fail for valid ranges.</summary>
    public abstract void Copy(nint source, nint destination, nuint length);

    /// <summary>Writes zeros over a range. Cannot fail for a valid range.</summary>
    public abstract void Clear(nint address, nuint length);

    /// <summary>The kernel's default vm.max_map_count: what a pool sizes its mapping budget by where <see cref="MaxMapCount"/> is unknown.</summary>
    public const long DefaultMaxMapCount = 65530;

    /// <summary>
    /// Writes the byte at <paramref name="address"/> back with its own value (in a range the caller owns exclusively):
    /// on Linux the write fault gives the kernel mapping holding it an anon_vma, which every piece it is later split
    /// into shares, so the pieces can merge again. Layers without kernel mappings to merge do nothing.
    /// </summary>
    public abstract void Stamp(nint address);

    /// <summary>
    /// The kernel's limit on this process's mappings (<c>vm.max_map_count</c>), or -1 where this layer's reservations
    /// are not kernel mappings the process could run out of (the portable layer). Read once; cheap.
    /// </summary>
    public virtual long MaxMapCount => -1;

    /// <summary>
    /// How many kernel mappings the whole process has now, or -1 where it cannot be known. Costs O(mappings) (on
    /// Linux it reads every line of /proc/self/maps), so the arena asks only when it is about to add mappings
    /// and its estimate of the process's headroom is near the reserve; it allocates nothing per mapping.
    /// </summary>
    public virtual int CountProcessMappings() => -1;

    /// <summary>
    /// The process's soft limit on address space in bytes (RLIMIT_AS, what <c>ulimit -v</c> sets), or -1 when it is
    /// unlimited or this layer cannot know it. Read once; cheap. The arena names it when a mapping is refused.
    /// </summary>
    public virtual long AddressSpaceLimit => -1;

    /// <summary>
    /// Whether every page of [<paramref name="address"/>, <paramref name="address"/> + <paramref name="length"/>)
    /// is mapped now; null where this layer cannot ask the kernel. Allocates nothing and reads no file: the arena
    /// asks after a refused move, when the process may be at vm.max_map_count.
    /// </summary>
    public virtual bool? IsWhollyMapped(nint address, nuint length) => null;

    /// <summary>
    /// Resident bytes (RSS) of the given ranges, or -1 where the system cannot tell. Reads /proc/self/smaps where it
    /// exists, whichever layer made the mappings: meant for metrics, not hot paths (see
    /// <see cref="ProcessMemory.ReadResidentBytesWithin"/>).
    /// </summary>
    public virtual long ResidentBytesWithin(IReadOnlyList<(nint Start, nint End)> ranges) => ProcessMemory.ReadResidentBytesWithin(ranges);

    /// <summary>The layer this process should use: Linux where mremap exists, the portable one elsewhere.</summary>
    public static VirtualMemory ForCurrentPlatform() =>
        OperatingSystem.IsLinux() && LinuxVirtualMemory.IsAvailable() ? LinuxVirtualMemory.Instance : PortableVirtualMemory.Instance;
}
