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
/// <para><b>Owners, and what stale use can reach.</b> By default (<see cref="Shared"/>, the public constructors)
/// every Rent makes a new owner object of 32 bytes, as <see cref="MemoryPool{T}.Shared"/> allocates one of 24 bytes,
/// and that owner belongs to its lease alone. Disposing it is idempotent and final: a second <c>Dispose</c>, on any
/// thread and at any later time, ends no other lease (one racing the first on another thread is counted in
/// <see cref="NativePoolStatistics.RedundantDisposes"/>), and the owner's <c>Memory</c>, and every <see cref="Memory{T}"/> or
/// <c>ReadOnlyMemory</c> taken from it, throw <see cref="ObjectDisposedException"/> on <c>.Span</c> and
/// <c>.Pin()</c> for good — they never reach the buffer's next tenant. (<see cref="MemoryPool{T}.Shared"/> cannot
/// tell: a stale <c>Memory</c> there reaches the array's next tenant unchecked.) The check is made when the span or
/// pin is taken: a <see cref="Span{T}"/> or pointer obtained while the lease was valid is not checked afterwards,
/// and an owner still out when its pool is disposed keeps its memory mapped until it is disposed.</para>
/// <para><b>Reused owners (opt-in: <see cref="SharedReusingOwners"/>, or <c>reuseOwners: true</c>).</b> Rent and
/// Dispose allocate nothing in steady state, and the price is the guarantee above: see
/// <see cref="NativeMemoryPool(NativePoolOptions, bool)"/> for the hazard. Meant for callers that dispose each owner
/// exactly once and drop its <c>Memory</c> with it, such as Kestrel's transports.</para>
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
    private static NativeMemoryPool? s_sharedReusingOwners;

    private readonly PoolCore _core;
    private readonly bool _reuseOwners;

    private NativeMemoryPool(PoolCore core, bool reuseOwners)
    {
        _core = core;
        _reuseOwners = reuseOwners;
    }

    /// <summary>Creates a pool with arenas of its own, default options, and an owner per Rent. <see cref="MemoryPool{T}.Dispose()"/> releases its memory.</summary>
    public NativeMemoryPool()
        : this(new NativePoolOptions(), reuseOwners: false)
    {
    }

    /// <summary>Creates a pool with arenas of its own and an owner per Rent. <see cref="MemoryPool{T}.Dispose()"/> releases its memory.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException">An option is out of range; the message names it.</exception>
    /// <exception cref="PlatformNotSupportedException"><see cref="MemoryBackend.Linux"/> was asked for on another platform.</exception>
    public NativeMemoryPool(NativePoolOptions options)
        : this(options, reuseOwners: false)
    {
    }

    /// <summary>Creates a pool with arenas of its own. <see cref="MemoryPool{T}.Dispose()"/> releases its memory.</summary>
    /// <param name="options">Arena settings; validated and copied.</param>
    /// <param name="reuseOwners">
    /// False (what the other constructors and <see cref="Shared"/> use): a new 32-byte owner per Rent, and a disposed
    /// owner and its <see cref="Memory{T}"/> stay disposed for good (see the class remarks).
    /// <para>True: owner objects are reused and Rent allocates nothing. <b>Hazard:</b> each buffer keeps two owner
    /// objects and its successive leases alternate between them, so lease n+2 of a buffer is handed lease n's owner
    /// object again — and in a busy loop on one thread that is the very next Rent but one of that size. Then a second
    /// <c>Dispose</c> of lease n's owner (a double Dispose, which <see cref="IDisposable"/> otherwise promises is
    /// harmless) ends lease n+2, and the pool hands that memory to a third renter while lease n+2's holder still
    /// writes to it; and a <see cref="Memory{T}"/> kept from lease n reads and writes lease n+2's buffer with no
    /// error. Lease n+1 is protected (its owner is the other object). Choose true only where every owner is disposed
    /// exactly once and its <c>Memory</c> is dropped with it — Kestrel's transports, for example.</para>
    /// </param>
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
    /// The process-wide pool, with an owner per Rent (see the class remarks). It shares its arenas (and its statistics) with every
    /// <see cref="NativeArrayPool{T}.Shared"/>. It lives as long as the process: like
    /// <see cref="MemoryPool{T}.Shared"/>, disposing it does nothing, so it can be handed to components that
    /// dispose the pools they are given (Kestrel's transports do).
    /// </summary>
    public static new NativeMemoryPool Shared
    {
        get
        {
            NativeMemoryPool? shared = Volatile.Read(ref s_shared);
            return shared ?? CreateShared(ref s_shared, reuseOwners: false);
        }
    }

    /// <summary>
    /// The process-wide pool's arenas, with reused owners: Rent and Dispose allocate nothing in steady state. An
    /// explicit opt-in, because a second Dispose of an owner, or a <see cref="Memory{T}"/> kept past its owner's
    /// Dispose, can reach a later lease of the same buffer: read the hazard on
    /// <see cref="NativeMemoryPool(NativePoolOptions, bool)"/> before choosing it. It shares arenas, statistics and
    /// thread caches with <see cref="Shared"/>, and like it survives <see cref="MemoryPool{T}.Dispose()"/>.
    /// </summary>
    public static NativeMemoryPool SharedReusingOwners
    {
        get
        {
            NativeMemoryPool? shared = Volatile.Read(ref s_sharedReusingOwners);
            return shared ?? CreateShared(ref s_sharedReusingOwners, reuseOwners: true);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static NativeMemoryPool CreateShared(ref NativeMemoryPool? field, bool reuseOwners)
    {
        var pool = new NativeMemoryPool(PoolCore.Shared, reuseOwners);
        return Interlocked.CompareExchange(ref field, pool, null) ?? pool;
    }

    /// <summary>
    /// Describes the pool for logs and debuggers: its name, backend, the settings that change its behaviour (thread
    /// caches, guarded or tracking, zero on rent, mapping budget and reserve), whether owners are reused, and whether
    /// it was disposed.
    /// </summary>
    public override string ToString() => $"NativeMemoryPool({_core.Describe()}, {(_reuseOwners ? "reused owners" : "an owner per rent")})";

    /// <summary>The largest <c>minBufferSize</c> <see cref="Rent"/> accepts: <see cref="int.MaxValue"/> (no array length limit applies).</summary>
    public override int MaxBufferSize => int.MaxValue;

    /// <summary>
    /// Whether owner objects are reused across leases (zero allocation; the hazard is on
    /// <see cref="NativeMemoryPool(NativePoolOptions, bool)"/>) or made per Rent (the default: stale use always detected).
    /// </summary>
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
        return _reuseOwners
            ? NativeMemoryOwner.ForNextLease(allocation, generation)
            : new NativeMemoryOwner(allocation, generation);
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
