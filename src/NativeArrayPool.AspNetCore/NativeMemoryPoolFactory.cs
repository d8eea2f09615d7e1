using System.Buffers;
using Microsoft.AspNetCore.Connections;

namespace NativeBuffers.AspNetCore;

/// <summary>
/// An <see cref="IMemoryPoolFactory{T}"/> that hands out <see cref="NativeMemoryPool"/>s, so the ASP.NET Core
/// components that take their buffers from the registered factory keep them in native memory.
/// Register it with <c>services.AddNativeMemoryPool()</c>.
/// </summary>
/// <remarks>
/// <para><b>Who uses the factory</b> (checked against the ASP.NET Core 10.0 shared framework by reflection, and in
/// dotnet/aspnetcore's sources): the Kestrel <b>sockets</b> transport (<c>UseSockets</c>, Kestrel's default, copies the
/// registered factory into <c>SocketTransportOptions</c>) and the <b>named-pipes</b> transport (Windows) create their
/// pools from it; Kestrel's HTTP/1.1 and HTTP/2 layers then rent from the connection's pool (request body reads,
/// response writes), so one registration moves the whole TCP request/response path. The sockets client
/// (<c>SocketConnectionFactoryOptions</c>), <b>HTTP.sys</b> and <b>IIS in-process</b> (both Windows) also take the
/// factory from dependency injection. Not covered: the <b>QUIC</b> transport (HTTP/3) uses an internal factory of its
/// own, and application code that calls <see cref="MemoryPool{T}.Shared"/> or <c>ArrayPool</c> directly.</para>
/// <para><b>Caveat.</b> Kestrel's sockets transport (10.0) cannot send a multi-segment response from memory that
/// has no array behind it (<c>InvalidOperationException: Buffer backed by array was expected</c>), so with this
/// factory Kestrel needs <see cref="NativeSocketTransportFactory"/>; <c>AddNativeMemoryPool()</c> registers both.</para>
/// <para><b>Pools.</b> Made with the parameterless constructor, every <see cref="Create"/> returns
/// <see cref="NativeMemoryPool.SharedReusingOwners"/>: the process's shared arenas, which transports may dispose
/// harmlessly.
/// Made with options, every <see cref="Create"/> returns a new <see cref="NativeMemoryPool"/> with arenas of its own,
/// which the caller owns and disposes (Kestrel disposes a listener's pools when it stops); <see cref="Dispose"/>
/// disposes any the factory made that are still open.</para>
/// <para><b>Reused owners.</b> Unlike <see cref="NativeMemoryPool.Shared"/> and a <see cref="NativeMemoryPool"/>
/// made without asking, the pools from this factory reuse owner objects by default, so Kestrel's rents allocate
/// nothing, as with its own pool. That is safe for Kestrel, which disposes each owner once and keeps no
/// <see cref="Memory{T}"/> past it; it is not for code that may dispose an owner twice or use its memory after
/// disposing it: there a second Dispose or a kept <c>Memory</c> can reach a later lease of the same buffer (the
/// hazard is spelt out on <see cref="NativeMemoryPool(NativePoolOptions, bool)"/>). Components that share the factory
/// with such code should make it with <c>reuseOwners: false</c>.</para>
/// <para>Like Kestrel's default factory, pools from this one give idle memory back on their own: free pages are
/// discarded after <see cref="NativePoolOptions.IdleTrimDelay"/> (10 s by default) and under memory pressure;
/// <see cref="NativeMemoryPool.Trim"/> does it at once.</para>
/// <para>Thread-safety: all members are thread-safe.</para>
/// </remarks>
public sealed class NativeMemoryPoolFactory : IMemoryPoolFactory<byte>, IDisposable
{
    private readonly NativePoolOptions? _options;
    private readonly bool _reuseOwners;
    private readonly Lock _lock = new();
    private readonly List<NativeMemoryPool> _pools = new();
    private int _poolsCreated;
    private bool _disposed;

    /// <summary>A factory whose pools are all <see cref="NativeMemoryPool.SharedReusingOwners"/> (see the class remarks on reused owners).</summary>
    public NativeMemoryPoolFactory()
    {
        _reuseOwners = true;
    }

    /// <summary>A factory that makes a new <see cref="NativeMemoryPool"/> with <paramref name="options"/> for each <see cref="Create"/>.</summary>
    /// <param name="options">Arena settings, validated now and copied.</param>
    /// <param name="reuseOwners">True (the default here, for Kestrel) for zero-allocation rents, at the price of the
    /// hazard described on <see cref="NativeMemoryPool(NativePoolOptions, bool)"/>; false for a 32-byte owner per Rent
    /// whose disposal is final, so that a second Dispose or a stale <see cref="Memory{T}"/> never reaches another lease.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException">An option is out of range; the message names it.</exception>
    public NativeMemoryPoolFactory(NativePoolOptions options, bool reuseOwners = true)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Clone();
        _reuseOwners = reuseOwners;
        // Validate now, where the mistake was made, rather than at the first connection.
        new NativeMemoryPool(_options, reuseOwners).Dispose();
    }

    /// <summary>True when every pool is <see cref="NativeMemoryPool.SharedReusingOwners"/>, over the shared arenas.</summary>
    public bool UsesSharedPool => _options is null;

    /// <summary>How many times <see cref="Create"/> was called: a test that the host really took its pools from this factory.</summary>
    public int PoolsCreated => Volatile.Read(ref _poolsCreated);

    /// <summary>Returns a pool for a transport or server. See the class remarks for who owns it.</summary>
    /// <param name="options">The caller's description (its <see cref="MemoryPoolOptions.Owner"/>, e.g. "kestrel"); not used to size the pool.</param>
    /// <exception cref="ObjectDisposedException">The factory was disposed (factories with options only).</exception>
    public MemoryPool<byte> Create(MemoryPoolOptions? options = null)
    {
        Interlocked.Increment(ref _poolsCreated);
        if (_options is null)
            return NativeMemoryPool.SharedReusingOwners;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var pool = new NativeMemoryPool(_options, _reuseOwners);
            _pools.Add(pool);
            return pool;
        }
    }

    /// <summary>
    /// Counters summed over the pools this factory made (including ones already disposed, whose rents and returns still
    /// count), or the shared arenas' counters, which include <see cref="NativeMemoryPool.Shared"/> and every shared <see cref="NativeArrayPool{T}"/>.
    /// </summary>
    public NativePoolStatistics GetStatistics()
    {
        if (_options is null)
            return NativeMemoryPool.SharedReusingOwners.GetStatistics();
        NativeMemoryPool[] pools;
        lock (_lock)
            pools = _pools.ToArray();
        NativePoolStatistics sum = new() { Backend = "" };
        foreach (NativeMemoryPool pool in pools)
            sum = sum.Combine(pool.GetStatistics());
        return sum;
    }

    /// <summary>Disposes the pools this factory made (factories with options); the shared pool is left alone. Idempotent.</summary>
    public void Dispose()
    {
        NativeMemoryPool[] pools;
        lock (_lock)
        {
            if (_disposed)
                return;
            _disposed = true;
            pools = _pools.ToArray();
        }
        foreach (NativeMemoryPool pool in pools)
            pool.Dispose();
    }
}
