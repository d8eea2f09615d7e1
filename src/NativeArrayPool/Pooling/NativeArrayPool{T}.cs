using System.Buffers;
using System.Runtime.CompilerServices;
using NativeBuffers.Arenas;
using NativeBuffers.Diagnostics;
using NativeBuffers.Pooling;

namespace NativeBuffers;

/// <summary>
/// A pool of native buffers of <typeparamref name="T"/>, shaped like <see cref="System.Buffers.ArrayPool{T}"/>:
/// <see cref="Rent"/> a buffer at least as long as asked, <see cref="Return"/> it when done. Buffers live in
/// native chunk arenas, not on the GC heap: they may exceed 2 GiB, and <see cref="Resize"/> grows them in place
/// or by moving their pages (mremap) instead of copying where the platform allows.
/// </summary>
/// <remarks>
/// <para>Thread-safety: all members are thread-safe. Rent and Return of common sizes are served from a
/// per-thread cache and take no lock.</para>
/// <para>Misuse is detected, not silently absorbed: returning a buffer twice throws
/// <see cref="InvalidOperationException"/>; returning one to another pool, or a <c>default</c> one, throws
/// <see cref="ArgumentException"/> (as <see cref="System.Buffers.ArrayPool{T}"/> does for a foreign or null array); using a returned or resized lease throws
/// <see cref="ObjectDisposedException"/>. The pool stays consistent in each case. Spans and pointers taken from
/// a lease are beyond any check; while debugging, <see cref="NativePoolOptions.Guarded"/> catches writes through
/// stale ones, and <see cref="NativePoolOptions.TrackLeases"/> finds leases never returned.</para>
/// <para>Memory goes back to the OS on <see cref="Trim"/>, after <see cref="NativePoolOptions.IdleTrimDelay"/> of
/// idleness, and on full GCs under memory pressure (<see cref="NativePoolOptions.TrimOnMemoryPressure"/>).</para>
/// </remarks>
/// <example>
/// <code>
/// var pool = NativeArrayPool&lt;byte&gt;.Shared;
/// NativeBuffer&lt;byte&gt; buffer = pool.Rent(64 &lt;&lt; 20);
/// buffer.AsSpan().Fill(42);
/// pool.Resize(ref buffer, 3L &lt;&lt; 30);   // ≥ 3 GiB, contents kept; on Linux the pages move, nothing is copied
/// pool.Return(buffer);
/// </code>
/// </example>
public sealed class NativeArrayPool<T> : IDisposable where T : unmanaged
{
    private static NativeArrayPool<T>? s_shared;

    private readonly PoolCore _core;

    private NativeArrayPool(PoolCore core) => _core = core;

    /// <summary>
    /// The process-wide pool. Every <c>Shared</c> pool, whatever its element type, uses the same arenas, so
    /// memory returned as bytes can be rented again as ints. It lives as long as the process.
    /// </summary>
    public static NativeArrayPool<T> Shared
    {
        get
        {
            NativeArrayPool<T>? shared = Volatile.Read(ref s_shared);
            return shared ?? CreateShared();
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static NativeArrayPool<T> CreateShared()
    {
        var pool = new NativeArrayPool<T>(PoolCore.Shared);
        return Interlocked.CompareExchange(ref s_shared, pool, null) ?? pool;
    }

    /// <summary>Creates a pool with arenas of its own and default options. <see cref="Dispose"/> releases its memory.</summary>
    public static NativeArrayPool<T> Create() => Create(new NativePoolOptions());

    /// <summary>Creates a pool with arenas of its own. <see cref="Dispose"/> releases its memory.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException">An option is out of range; the message names it.</exception>
    /// <exception cref="PlatformNotSupportedException"><see cref="MemoryBackend.Linux"/> was asked for on another platform.</exception>
    public static NativeArrayPool<T> Create(NativePoolOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new NativeArrayPool<T>(new PoolCore(options));
    }

    /// <summary>The largest length <see cref="Rent"/> and <see cref="Resize"/> accept: 16 TiB of elements' bytes.</summary>
    public static long MaxLength => SizeClasses.MaxSize / Unsafe.SizeOf<T>();

    internal PoolCore Core => _core;

    /// <summary>
    /// Rents a buffer of at least <paramref name="minimumLength"/> elements. Its <see cref="NativeBuffer{T}.Length"/>
    /// is the size class's, so it may be larger. Contents are not cleared. <c>Rent(0)</c> returns an empty lease.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="minimumLength"/> is negative or larger than <see cref="MaxLength"/>.</exception>
    /// <exception cref="ObjectDisposedException">The pool was disposed.</exception>
    /// <exception cref="InsufficientMemoryException">No address space could be mapped; the message says whether the process is at vm.max_map_count.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public NativeBuffer<T> Rent(long minimumLength)
    {
        PoolCore core = _core; // one load of the field, in a register: the stores between would make the JIT read it again
        ThreadCache? sharedCache = PoolCore.ThreadSharedCache; // before the branch below: see PoolCore.ThreadSharedCache
        if ((ulong)minimumLength - 1 >= (ulong)MaxLength)
            return RentUnusual(minimumLength);
        int sizeClass = SizeClasses.ClassOf(minimumLength * Unsafe.SizeOf<T>());
        Allocation allocation = core.Rent(sharedCache, sizeClass, out int generation);
        return new NativeBuffer<T>(allocation, allocation.Capacity / Unsafe.SizeOf<T>(), generation);
    }

    private NativeBuffer<T> RentUnusual(long minimumLength)
    {
        if (minimumLength < 0)
            ThrowHelper.ThrowNegativeLength(nameof(minimumLength), minimumLength);
        if (minimumLength > MaxLength)
            ThrowHelper.ThrowTooLarge(nameof(minimumLength), minimumLength, MaxLength);
        if (_core.IsDisposed)
            ThrowHelper.ThrowPoolDisposed();
        return Empty;
    }

    /// <summary>An empty lease of this pool: no memory, valid, and ignored by Return.</summary>
    private NativeBuffer<T> Empty => new(_core.EmptyLease, 0, 1);

    /// <summary>
    /// Rents a buffer of at least <paramref name="minimumLength"/> elements as an <see cref="IMemoryOwner{T}"/>, the
    /// shape <see cref="MemoryPool{T}.Rent"/> hands out, for code that passes ownership along with the memory.
    /// Its <see cref="IMemoryOwner{T}.Memory"/> covers the whole buffer (at least <paramref name="minimumLength"/>
    /// elements, like a <see cref="MemoryPool{T}"/>'s; slice it to the length you need).
    /// </summary>
    /// <remarks>
    /// <para>Ownership: disposing the owner returns the buffer to this pool; a second Dispose does nothing (also when
    /// it races with the first), as <see cref="IDisposable"/> promises. Afterwards the owner's
    /// <see cref="IMemoryOwner{T}.Memory"/> throws <see cref="ObjectDisposedException"/>, and so does any use
    /// (<see cref="Memory{T}.Span"/>, <see cref="Memory{T}.Pin"/>) of a <see cref="Memory{T}"/> taken from it
    /// earlier: a kept memory never reaches the buffer's next tenant. The same holds once this pool is disposed.
    /// An owner that is never disposed keeps its buffer rented (there is no finalizer).</para>
    /// <para>Each call allocates the owner (one object, which is also the memory's manager). For a lease you manage
    /// yourself, <see cref="NativeBuffer{T}.AsMemory()"/> gives memory without ownership.</para>
    /// </remarks>
    /// <param name="minimumLength">Elements needed, from 0 to <see cref="int.MaxValue"/> (what a <see cref="Memory{T}"/> holds).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="minimumLength"/> is negative.</exception>
    /// <exception cref="ObjectDisposedException">The pool was disposed.</exception>
    /// <exception cref="InsufficientMemoryException">No address space could be mapped.</exception>
    /// <example>
    /// <code>
    /// using IMemoryOwner&lt;byte&gt; owner = NativeArrayPool&lt;byte&gt;.Shared.RentOwner(64 * 1024);
    /// int read = await stream.ReadAsync(owner.Memory);
    /// </code>
    /// </example>
    public IMemoryOwner<T> RentOwner(int minimumLength)
    {
        if (minimumLength < 0)
            ThrowHelper.ThrowNegativeLength(nameof(minimumLength), minimumLength);
        NativeBuffer<T> lease = Rent(minimumLength);
        return NativeMemoryManager<T>.Owner(lease, (int)Math.Min(lease.Length, int.MaxValue));
    }

    /// <summary>
    /// Returns a buffer to the pool. The lease, and every copy of it, is stale afterwards.
    /// </summary>
    /// <param name="buffer">A lease this pool rented. An empty lease from <c>Rent(0)</c> is accepted and ignored.</param>
    /// <param name="clearArray">Zero the buffer before another tenant can get it.</param>
    /// <exception cref="ArgumentException">The lease is <c>default</c> or belongs to another pool (<see cref="ArgumentException.ParamName"/> is
    /// <c>"buffer"</c>, as <see cref="System.Buffers.ArrayPool{T}.Return"/> of a null or foreign array).</exception>
    /// <exception cref="InvalidOperationException">The lease was already returned or resized: a double return.</exception>
    /// <exception cref="ObjectDisposedException">The pool was disposed.</exception>
    /// <exception cref="StaleWriteException">Guarded mode: an older buffer this return pushed out of the quarantine had
    /// been written to after its own return. This buffer was returned all the same.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Return(NativeBuffer<T> buffer, bool clearArray = false)
    {
        PoolCore core = _core;
        Allocation? allocation = buffer._allocation;
        // Length 0 is both a default lease (no record) and an empty one; every other lease has a record, so no null
        // test is needed before reading its arena.
        if (buffer._length == 0 || allocation!.Arena != core.Arena)
        {
            ReturnUnusual(buffer);
            return;
        }
        core.Return(allocation, buffer._generation, clearArray, nameof(buffer));
    }

    private void ReturnUnusual(NativeBuffer<T> buffer)
    {
        PoolCore? owner = buffer.Core;
        if (owner != _core)
            _core.NoteMisuse();
        if (owner is null)
        {
            _core.Diagnostics.OnMisuse(MisuseKind.DefaultLease);
            ThrowHelper.ThrowDefaultLease(nameof(buffer));
        }
        if (owner != _core)
        {
            _core.Diagnostics.OnMisuse(MisuseKind.ForeignLease);
            ThrowHelper.ThrowForeignLease(nameof(buffer));
        }
        // An empty lease holds no memory: nothing to give back. Only its pool's disposal ends it.
        if (!buffer.IsValid)
            ThrowHelper.ThrowPoolDisposed();
    }

    /// <summary>
    /// Changes the length of a rented buffer, keeping its first min(old, new) elements, like CommunityToolkit's
    /// <c>ArrayPool.Resize</c>. The buffer grows in place if its neighbours are free, else its pages move
    /// (mremap) when it is large enough, else it is copied. On return <paramref name="buffer"/> is a new lease
    /// with <c>Length ≥ newLength</c>; the old lease and its copies are stale. Resizing to 0 returns the buffer
    /// and leaves an empty lease; resizing an empty or a <c>default</c> lease rents (so a field that starts as
    /// <c>default</c> grows from nothing, as CommunityToolkit's <c>ArrayPool.Resize(ref null, n)</c> rents).
    /// </summary>
    /// <param name="buffer">A lease this pool rented (or <c>default</c>, which rents); replaced by the resized one.</param>
    /// <param name="newLength">The new minimum length, from 0 to <see cref="MaxLength"/>.</param>
    /// <param name="clearArray">Zero any memory the buffer leaves behind with its contents (after a copy).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="newLength"/> is negative or larger than <see cref="MaxLength"/>.</exception>
    /// <exception cref="ArgumentException">The lease belongs to another pool (<see cref="ArgumentException.ParamName"/> is <c>"buffer"</c>).</exception>
    /// <exception cref="InvalidOperationException">The lease was already returned or resized.</exception>
    /// <exception cref="InsufficientMemoryException">No path could grow the buffer; <paramref name="buffer"/> is unchanged and still valid.</exception>
    /// <exception cref="ObjectDisposedException">The pool was disposed.</exception>
    public void Resize(ref NativeBuffer<T> buffer, long newLength, bool clearArray = false)
    {
        if (newLength < 0)
            ThrowHelper.ThrowNegativeLength(nameof(newLength), newLength);
        if (newLength > MaxLength)
            ThrowHelper.ThrowTooLarge(nameof(newLength), newLength, MaxLength);
        if (buffer.Core != _core && buffer._allocation is not null)
            ReturnUnusual(buffer); // throws for a foreign lease
        if (buffer._length == 0)
        {
            buffer = Rent(newLength);
            return;
        }
        if (newLength == 0)
        {
            Return(buffer, clearArray);
            buffer = Empty;
            return;
        }
        int newClass = SizeClasses.ClassOf(newLength * Unsafe.SizeOf<T>());
        Allocation resized = _core.Resize(buffer._allocation!, buffer._generation, newClass, clearArray, nameof(buffer), out int generation);
        buffer = new NativeBuffer<T>(resized, resized.Capacity / Unsafe.SizeOf<T>(), generation);
    }

    /// <summary>
    /// Makes elements [<paramref name="start"/>, <paramref name="start"/>+<paramref name="length"/>) of a lease read
    /// zero without committing memory for them, for ranges its holder has not written: the gap a write past the end
    /// of a stream skips, the part a SetLength adds. Whole OS pages are discarded where that leaves zeros; only the
    /// partial pages at the edges (and small ranges) are written. The caller has checked the bounds.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The lease has ended.</exception>
    internal void ClearSparse(in NativeBuffer<T> buffer, long start, long length, IMemoryOrigin holder)
    {
        nint address = buffer.CheckedAddress(holder);
        long size = Unsafe.SizeOf<T>();
        _core.Arena.ZeroSparse(address + (nint)(start * size), length * size);
    }

    /// <summary>A snapshot of the pool's counters. For <see cref="Shared"/> they cover every shared pool.</summary>
    public NativePoolStatistics GetStatistics() => _core.GetStatistics();

    /// <summary>
    /// Gives unused memory back to the OS: flushes this thread's cache (other threads flush on their next rent
    /// that misses their cache), unmaps reservations that hold no buffer, and discards the pages of the free
    /// memory that stays reserved (madvise; the address space stays, the memory is no longer resident). A
    /// reservation that holds no buffer but has been split into several kernel mappings by page moves is mapped
    /// afresh as one, giving those mappings back to the process. Rented buffers are untouched. Returns the bytes given back: address space unmapped plus free memory
    /// discarded (free memory that was never touched counts too, as the pool cannot tell).
    /// </summary>
    /// <exception cref="ObjectDisposedException">The pool was disposed.</exception>
    /// <exception cref="StaleWriteException">Guarded mode: a quarantined buffer had been written to after its return (the trim still completed).</exception>
    public long Trim() => _core.Trim();

    /// <summary>
    /// The leases that are out right now, with their sizes (and rent stacks with
    /// <see cref="NativePoolOptions.CaptureRentStackTraces"/>), for finding leaks: call it when every buffer should be
    /// back. Needs <see cref="NativePoolOptions.TrackLeases"/> or <see cref="NativePoolOptions.Guarded"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The pool does not track leases.</exception>
    public IReadOnlyList<NativeLeaseInfo> GetLiveLeases() => _core.GetLiveLeases();

    /// <summary>
    /// Describes the pool for logs and debuggers: its name, backend, and the settings that change its behaviour
    /// (thread caches, guarded or tracking, zero on rent, mapping budget and reserve), and whether it was disposed.
    /// </summary>
    public override string ToString() => $"NativeArrayPool<{typeof(T).Name}>({_core.Describe()})";

    /// <summary>
    /// Releases the pool's memory (pools from <see cref="Create()"/> only). Leases still out end: every accessor,
    /// <see cref="Rent"/>, <see cref="Resize"/> and <see cref="Return"/> throw <see cref="ObjectDisposedException"/>.
    /// Calling it again does nothing.
    /// </summary>
    /// <remarks>
    /// <para>Thread-safety: it may run while other threads use the pool. Operations already inside the pool (a
    /// clearing return, a resize, a trim) finish first, on memory that is still mapped; later ones throw
    /// <see cref="ObjectDisposedException"/>. No operation faults.</para>
    /// <para>Memory of leases still out is not unmapped yet: code that checked a lease a moment before (a collection
    /// writing into its buffer, a span taken earlier) writes into memory that is still the lease's. Each such lease's
    /// memory goes when the lease is returned or disposed (the Return still throws, to report the disposal). A lease
    /// that is never returned keeps its part of the address space mapped; <see cref="NativePoolOptions.TrackLeases"/>
    /// reports such leaks at disposal.</para>
    /// </remarks>
    /// <exception cref="InvalidOperationException">This is the <see cref="Shared"/> pool, which cannot be disposed.</exception>
    public void Dispose() => _core.Dispose();
}
