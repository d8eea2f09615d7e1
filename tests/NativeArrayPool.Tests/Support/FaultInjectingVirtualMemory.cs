using NativeBuffers.Os;

namespace NativeBuffers.Tests.Support;

/// <summary>The primitives a fault can be injected into.</summary>
internal enum Primitive
{
    Reserve,
    Release,
    ReplaceWithFreshPages,
    FillHole,
    MoveInto,
    Move,
    Discard,
    Protect,
}

/// <summary>
/// Decorates a real layer and makes chosen calls fail, for tests of every failure path. A failure is injected
/// before the inner call, so the real state is untouched — except for <see cref="Primitive.MoveInto"/>, where
/// the injected failure also unmaps the destination first when <see cref="MoveIntoFailureUnmapsDestination"/>
/// says so. Kernels differ here: before 6.x, EFAULT (and ENOMEM from the later checks) came after the
/// destination was unmapped; the map-count check (ENOMEM) and, since the 6.x rework, the source checks (EFAULT)
/// refuse before anything is unmapped. The arena must be right in both cases.
/// </summary>
/// <remarks>Thread-safety: the decision function is called under a lock, so it may keep state.</remarks>
internal sealed class FaultInjectingVirtualMemory : VirtualMemory
{
    private readonly VirtualMemory _inner;
    private readonly Func<Primitive, long, OsError> _decide;
    private readonly long[] _calls = new long[Enum.GetValues<Primitive>().Length];
    private readonly long[] _failures = new long[Enum.GetValues<Primitive>().Length];
    private readonly Lock _lock = new();

    /// <param name="inner">The real layer that does the work when no fault is injected.</param>
    /// <param name="decide">Called with the primitive and its 0-based call number for that primitive; returns the error to inject, or success to let the call through.</param>
    public FaultInjectingVirtualMemory(VirtualMemory inner, Func<Primitive, long, OsError> decide)
    {
        _inner = inner;
        _decide = decide;
    }

    /// <summary>Fails the <paramref name="callNumber"/>-th call (0-based) of <paramref name="primitive"/> with <paramref name="error"/>.</summary>
    public static FaultInjectingVirtualMemory FailAt(VirtualMemory inner, Primitive primitive, long callNumber, OsError error) =>
        new(inner, (p, n) => p == primitive && n == callNumber ? error : OsError.Success);

    /// <summary>Fails every call of the given primitives.</summary>
    public static FaultInjectingVirtualMemory FailAlways(VirtualMemory inner, OsError error, params Primitive[] primitives) =>
        new(inner, (p, _) => Array.IndexOf(primitives, p) >= 0 ? error : OsError.Success);

    /// <summary>Fails each call with the given probability, reproducibly from the seed.</summary>
    public static FaultInjectingVirtualMemory FailRandomly(VirtualMemory inner, int seed, double probability, params Primitive[] primitives)
    {
        var random = new Random(seed);
        return new(inner, (p, _) =>
            (primitives.Length == 0 || Array.IndexOf(primitives, p) >= 0) && random.NextDouble() < probability
                ? (random.Next(2) == 0 ? OsError.OutOfMemory : OsError.Fault)
                : OsError.Success);
    }

    /// <summary>
    /// Whether an injected ENOMEM/EFAULT from <see cref="MoveInto"/> unmaps the destination first (the older
    /// kernels' order). False plays a kernel that refuses before touching anything. Default true.
    /// </summary>
    public bool MoveIntoFailureUnmapsDestination { get; set; } = true;

    /// <summary>
    /// Plays the process's mapping count: when set, <see cref="CountProcessMappings"/> answers this instead of the
    /// kernel (a test can put the process near vm.max_map_count without consuming mappings). Null asks the inner layer.
    /// </summary>
    public Func<int>? ProcessMappings { get; set; }

    /// <summary>Plays a different vm.max_map_count; null passes the inner layer's through.</summary>
    public long? MaxMapCountOverride { get; set; }

    /// <summary>How many times the process's mappings were counted (each an O(mappings) read of /proc/self/maps on Linux).</summary>
    public long ProcessMappingCounts => Interlocked.Read(ref _processMappingCounts);
    private long _processMappingCounts;

    /// <summary>Plays a different RLIMIT_AS; null passes the inner layer's through.</summary>
    public long? AddressSpaceLimitOverride { get; set; }

    /// <summary>
    /// Plays mincore's answer to <see cref="IsWhollyMapped"/> (say, null for a kernel that cannot be asked, or false
    /// for a destination the kernel unmapped); null asks the inner layer.
    /// </summary>
    public Func<nint, nuint, bool?>? WhollyMapped { get; set; }

    public override long MaxMapCount => MaxMapCountOverride ?? _inner.MaxMapCount;

    public override long AddressSpaceLimit => AddressSpaceLimitOverride ?? _inner.AddressSpaceLimit;

    public override bool? IsWhollyMapped(nint address, nuint length) =>
        WhollyMapped is { } play ? play(address, length) : _inner.IsWhollyMapped(address, length);

    public override int CountProcessMappings()
    {
        Interlocked.Increment(ref _processMappingCounts);
        return ProcessMappings is { } play ? play() : _inner.CountProcessMappings();
    }

    public override string Name => _inner.Name + "+faults";
    public override nuint PageSize => _inner.PageSize;
    public override bool CanMovePages => _inner.CanMovePages;
    public override bool DiscardedPagesReadZero => _inner.DiscardedPagesReadZero;

    /// <summary>How many times <paramref name="primitive"/> was called.</summary>
    public long Calls(Primitive primitive) { lock (_lock) return _calls[(int)primitive]; }

    /// <summary>How many failures were injected into <paramref name="primitive"/>.</summary>
    public long Failures(Primitive primitive) { lock (_lock) return _failures[(int)primitive]; }

    /// <summary>Total injected failures.</summary>
    public long TotalFailures { get { lock (_lock) return _failures.Sum(); } }

    private OsError Inject(Primitive primitive)
    {
        lock (_lock)
        {
            OsError error = _decide(primitive, _calls[(int)primitive]++);
            if (error.IsFailure)
                _failures[(int)primitive]++;
            return error;
        }
    }

    public override OsError Reserve(nuint length, nuint alignment, bool hugePages, out nint address)
    {
        address = 0;
        OsError injected = Inject(Primitive.Reserve);
        return injected.IsFailure ? injected : _inner.Reserve(length, alignment, hugePages, out address);
    }

    public override OsError Release(nint address, nuint length)
    {
        OsError injected = Inject(Primitive.Release);
        return injected.IsFailure ? injected : _inner.Release(address, length);
    }

    public override OsError ReplaceWithFreshPages(nint address, nuint length, bool hugePages)
    {
        OsError injected = Inject(Primitive.ReplaceWithFreshPages);
        return injected.IsFailure ? injected : _inner.ReplaceWithFreshPages(address, length, hugePages);
    }

    public override OsError FillHole(nint address, nuint length, bool hugePages)
    {
        OsError injected = Inject(Primitive.FillHole);
        return injected.IsFailure ? injected : _inner.FillHole(address, length, hugePages);
    }

    public override OsError MoveInto(nint source, nuint sourceLength, nint destination, nuint destinationLength, bool hugePages)
    {
        OsError injected = Inject(Primitive.MoveInto);
        if (injected.IsFailure)
        {
            // Reproduce the kernel's order of operations: the destination is gone before the call fails.
            if (MoveIntoFailureUnmapsDestination && _inner.CanMovePages && injected.Errno != Interop.Libc.EINVAL)
                _inner.Release(destination, destinationLength);
            return injected;
        }
        return _inner.MoveInto(source, sourceLength, destination, destinationLength, hugePages);
    }

    public override OsError Move(nint source, nuint sourceLength, nuint newLength, out nint newAddress)
    {
        newAddress = 0;
        OsError injected = Inject(Primitive.Move);
        return injected.IsFailure ? injected : _inner.Move(source, sourceLength, newLength, out newAddress);
    }

    public override OsError Discard(nint address, nuint length)
    {
        OsError injected = Inject(Primitive.Discard);
        return injected.IsFailure ? injected : _inner.Discard(address, length);
    }

    public override OsError Protect(nint address, nuint length, bool accessible)
    {
        OsError injected = Inject(Primitive.Protect);
        return injected.IsFailure ? injected : _inner.Protect(address, length, accessible);
    }

    public override void Copy(nint source, nint destination, nuint length) => _inner.Copy(source, destination, length);
    public override void Clear(nint address, nuint length) => _inner.Clear(address, length);
    public override void Stamp(nint address) => _inner.Stamp(address);
}
