using System.Buffers;
using System.Runtime.CompilerServices;
using NativeBuffers.Arenas;
using NativeBuffers.Pooling;

namespace NativeBuffers;

/// <summary>
/// A <see cref="MemoryPool{T}"/> of bytes whose buffers live in native memory: a drop-in for
/// <see cref="MemoryPool{T}.Shared"/> wherever a pool is handed in, such as
/// <c>new PipeOptions(pool: NativeMemoryPool.Shared)</c> or Kestrel's <c>IMemoryPoolFactory&lt;byte&gt;</c>.
/// </summary>
/// <remarks>
/// <para><b>Contract.</b> <see cref="Rent"/> follows <see cref="MemoryPool{T}.Shared"/>: -1 asks for the default
/// size (<see cref="DefaultBufferSize"/>), other negative sizes throw, and the owner's <see cref="Memory{T}"/> is at
/// least as long as asked (it is the whole size class, like the whole array the shared pool hands out). Contents
/// are not cleared. <see cref="MemoryManager{T}.Pin"/> takes no GC handle: the memory does not move while rented.
/// There is no array behind the memory (<c>MemoryMarshal.TryGetArray</c> returns false).</para>
/// <para><b>Allocation.</b> In steady state Rent and Dispose allocate nothing on the GC heap: owner objects are
/// reused (see below). <see cref="MemoryPool{T}.Shared"/> allocates an owner on every Rent.</para>
/// <para><b>Stale use: what is detected, and what is not.</b> Disposing an owner is idempotent, and after it the
/// owner's <c>Memory</c>, and every <see cref="Memory{T}"/> or <c>ReadOnlyMemory</c> taken from it, throw
/// <see cref="ObjectDisposedException"/> on <c>.Span</c> and <c>.Pin()</c> — but only for as long as that owner
/// object is not handed out again, because a <see cref="Memory{T}"/> records its manager object and nothing else.
/// <list type="bullet">
/// <item>Default mode (<see cref="ReusesOwners"/> true, <see cref="Shared"/>): each of the pool's allocation records
/// (its bookkeeping for one piece of memory) keeps two owner objects, and the record's successive tenants alternate
/// between them. A stale <c>Memory</c> from tenant n therefore throws while the record is free and during the whole
/// lease of tenant n+1 (the usual use-after-return race), but during the lease of tenant n+2 it reaches that
/// tenant's buffer undetected — and a second <c>Dispose</c> of the old owner then ends tenant n+2's lease. Per-thread
/// caches hand the most recently returned buffer out first, so in a busy loop tenant n+2 may come within
/// microseconds. (Records of small buffers always describe the same memory; records of page-sized and larger blocks
/// are recycled by the arena and may describe other memory by then.) Compare <see cref="MemoryPool{T}.Shared"/>, where
/// a stale <c>Memory</c> reaches the array's next tenant with no check at all.</item>
/// <item>Strict mode (<see cref="ReusesOwners"/> false): every Rent makes a new owner, so a stale owner or
/// <c>Memory</c> always throws and a second Dispose never touches another lease, at the cost of one small GC
/// allocation per Rent, as with <see cref="MemoryPool{T}.Shared"/>. Use it in tests and debugging.</item>
/// </list>
/// In both modes the check is made when the span or pin is taken: a <see cref="Span{T}"/> or pointer obtained while
/// the lease was valid is not checked afterwards, and memory of a disposed pool is unmapped (touching a span of it
/// faults).</para>
/// <para><b>Thread-safety.</b> All members are thread-safe. An owner may be disposed from any thread.</para>
/// </remarks>
/// <example>
/// <code>
/// var pipe = new Pipe(new PipeOptions(pool: NativeMemoryPool.Shared));
/// using IMemoryOwner&lt;byte&gt; owner = NativeMemoryPool.Shared.Rent(16 * 1024);
/// owner.Memory.Span.Fill(0x2A);
/// </code>
/// </example>
public sealed class NativeMemoryPool : MemoryPool<byte>
{
    /// <summary>The size <c>Rent()</c> and <c>Rent(-1)</c> give: 4096 bytes, as <see cref="MemoryPool{T}.Shared"/> does for bytes.</summary>
    public const int DefaultBufferSize = 4096;

    private static NativeMemoryPool? s_shared;

    private readonly PoolCore _core;
    private readonly bool _reuseOwners;

    private NativeMemoryPool(PoolCore core, bool reuseOwners)
    {
        _core = core;
        _reuseOwners = reuseOwners;
    }

    /// <summary>Creates a pool with arenas of its own, default options, and reused owners. <see cref="MemoryPool{T}.Dispose()"/> releases its memory.</summary>
    public NativeMemoryPool()
        : this(new NativePoolOptions(), reuseOwners: true)
    {
    }

    /// <summary>Creates a pool with arenas of its own and reused owners. <see cref="MemoryPool{T}.Dispose()"/> releases its memory.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException">An option is out of range; the message names it.</exception>
    /// <exception cref="PlatformNotSupportedException"><see cref="MemoryBackend.Linux"/> was asked for on another platform.</exception>
    public NativeMemoryPool(NativePoolOptions options)
        : this(options, reuseOwners: true)
    {
    }

    /// <summary>Creates a pool with arenas of its own. <see cref="MemoryPool{T}.Dispose()"/> releases its memory.</summary>
    /// <param name="options">Arena settings; validated and copied.</param>
    /// <param name="reuseOwners">True (the default elsewhere): owner objects are reused and Rent allocates nothing.
    /// False: a new owner per Rent, so stale owners and <see cref="Memory{T}"/> always throw (see the class remarks).</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException">An option is out of range; the message names it.</exception>
    /// <exception cref="PlatformNotSupportedException"><see cref="MemoryBackend.Linux"/> was asked for on another platform.</exception>
    public NativeMemoryPool(NativePoolOptions options, bool reuseOwners)
    {
        ArgumentNullException.ThrowIfNull(options);
        _core = new PoolCore(options);
        _reuseOwners = reuseOwners;
    }

    /// <summary>
    /// The process-wide pool, with reused owners. It shares its arenas (and its statistics) with every
    /// <see cref="NativeArrayPool{T}.Shared"/>. It lives as long as the process: like
    /// <see cref="MemoryPool{T}.Shared"/>, disposing it does nothing, so it can be handed to components that
    /// dispose the pools they are given (Kestrel's transports do).
    /// </summary>
    public static new NativeMemoryPool Shared
    {
        get
        {
            NativeMemoryPool? shared = Volatile.Read(ref s_shared);
            return shared ?? CreateShared();
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static NativeMemoryPool CreateShared()
    {
        var pool = new NativeMemoryPool(PoolCore.Shared, reuseOwners: true);
        return Interlocked.CompareExchange(ref s_shared, pool, null) ?? pool;
    }

    /// <summary>The largest <c>minBufferSize</c> <see cref="Rent"/> accepts: <see cref="int.MaxValue"/> (no array length limit applies).</summary>
    public override int MaxBufferSize => int.MaxValue;

    /// <summary>Whether owner objects are reused across leases (zero allocation) or made per Rent (stale use always detected).</summary>
    public bool ReusesOwners => _reuseOwners;

    internal PoolCore Core => _core;

    /// <summary>
    /// Rents native memory of at least <paramref name="minBufferSize"/> bytes. Dispose the owner to give it back;
    /// its <c>Memory</c> is the whole size class (up to <see cref="int.MaxValue"/> bytes), not cleared.
    /// </summary>
    /// <param name="minBufferSize">-1 (default) for <see cref="DefaultBufferSize"/>; otherwise 0 to <see cref="MaxBufferSize"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="minBufferSize"/> is less than -1.</exception>
    /// <exception cref="ObjectDisposedException">The pool was disposed.</exception>
    /// <exception cref="InsufficientMemoryException">No address space could be mapped; the message says whether the process is at vm.max_map_count.</exception>
    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        if (minBufferSize <= 0)
            minBufferSize = UnusualSize(minBufferSize);
        Allocation allocation = _core.Rent(SizeClasses.ClassOf(minBufferSize), out int generation);
        NativeMemoryOwner owner = _reuseOwners
            ? NativeMemoryOwner.ForNextLease(_core, allocation)
            : new NativeMemoryOwner(_core, allocation);
        owner.Bind(generation);
        return owner;
    }

    private static int UnusualSize(int minBufferSize)
    {
        if (minBufferSize == -1)
            return DefaultBufferSize;
        if (minBufferSize < -1)
            ThrowHelper.ThrowInvalidBufferSize(minBufferSize);
        return 1; // Rent(0) still gives an owner to dispose: the smallest class
    }

    /// <summary>A snapshot of the pool's counters. For <see cref="Shared"/> they include every shared <see cref="NativeArrayPool{T}"/>.</summary>
    public NativePoolStatistics GetStatistics() => _core.GetStatistics();

    /// <summary>
    /// Gives unused memory back to the OS, exactly as <see cref="NativeArrayPool{T}.Trim"/> does: flushes this
    /// thread's cache, empties the guarded-mode quarantine, unmaps reservations that hold no buffer and discards the
    /// pages of free memory that stays reserved. Rented buffers are untouched. Returns the bytes given back. On
    /// <see cref="Shared"/> it trims the arenas every shared pool uses.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The pool was disposed.</exception>
    /// <exception cref="StaleWriteException">Guarded mode: a quarantined buffer had been written to after its return (the trim still completed).</exception>
    public long Trim() => _core.Trim();

    /// <inheritdoc cref="NativeArrayPool{T}.GetLiveLeases"/>
    public IReadOnlyList<NativeLeaseInfo> GetLiveLeases() => _core.GetLiveLeases();

    /// <summary>
    /// Releases the pool's memory; owners still out become stale (their <c>Memory</c> throws
    /// <see cref="ObjectDisposedException"/>, their Dispose does nothing). Calling it again does nothing, and on
    /// <see cref="Shared"/> it does nothing at all.
    /// </summary>
    protected override void Dispose(bool disposing)
    {
        if (_core.IsShared)
            return;
        _core.Dispose();
    }
}
