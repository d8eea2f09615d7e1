using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection.Extensions;
using NativeBuffers;
using NativeBuffers.AspNetCore;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers <see cref="NativeMemoryPoolFactory"/> as the host's <see cref="IMemoryPoolFactory{T}"/> of bytes.</summary>
public static class NativeMemoryPoolServiceCollectionExtensions
{
    /// <summary>
    /// Makes the host's memory-pool factory hand out <see cref="NativeMemoryPool.SharedReusingOwners"/> (the shared
    /// arenas, with reused owners: see <see cref="NativeMemoryPoolFactory"/>) and serves Kestrel's TCP
    /// and Unix-socket endpoints with <see cref="NativeSocketTransportFactory"/>, so every buffer of Kestrel's
    /// HTTP/1.1 and HTTP/2 I/O path (socket receive, request parsing, response writing, socket send) is native memory.
    /// </summary>
    /// <remarks>
    /// <para>Replaces every earlier <see cref="IMemoryPoolFactory{T}"/> registration (Kestrel registers its own in
    /// <c>UseKestrel</c>) and Kestrel's <see cref="SocketTransportFactory"/>, which cannot send from memory that is not
    /// array-backed (see <see cref="NativeSocketTransportFactory"/>); other transports are kept. Call it after Kestrel
    /// is added — <c>WebApplication.CreateBuilder(args).Services</c> already has it — because a registration made later
    /// wins. The factory is also registered as itself, for its statistics.</para>
    /// <para>The other components that take the factory (see <see cref="NativeMemoryPoolFactory"/>) use it as well.</para>
    /// </remarks>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is null.</exception>
    public static IServiceCollection AddNativeMemoryPool(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        return Register(services, static _ => new NativeMemoryPoolFactory());
    }

    /// <summary>
    /// Like <see cref="AddNativeMemoryPool(IServiceCollection)"/>, but each pool the factory makes has arenas of its own,
    /// configured by <paramref name="configure"/>, and is disposed by the component that asked for it.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the pools' options (validated when the factory is made).</param>
    /// <param name="reuseOwners">True (the default, for Kestrel) for zero-allocation rents, at the price of the hazard
    /// described on <see cref="NativeMemoryPool(NativePoolOptions, bool)"/>; false for an owner per Rent whose disposal
    /// is final (a second Dispose or a stale <see cref="Memory{T}"/> never reaches another lease).</param>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="configure"/> is null.</exception>
    public static IServiceCollection AddNativeMemoryPool(this IServiceCollection services, Action<NativePoolOptions> configure, bool reuseOwners = true)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        return Register(services, _ =>
        {
            var options = new NativePoolOptions();
            configure(options);
            return new NativeMemoryPoolFactory(options, reuseOwners);
        });
    }

    private static IServiceCollection Register(IServiceCollection services, Func<IServiceProvider, NativeMemoryPoolFactory> create)
    {
        services.RemoveAll<IMemoryPoolFactory<byte>>();
        services.RemoveAll<NativeMemoryPoolFactory>();
        // Made by the container, so the container disposes it (and the pools it made) with the host.
        services.AddSingleton(create);
        services.AddSingleton<IMemoryPoolFactory<byte>>(static sp => sp.GetRequiredService<NativeMemoryPoolFactory>());
        // Kestrel's sockets transport throws on multi-segment sends from non-array memory; ours sends segment by segment.
        for (int i = services.Count - 1; i >= 0; i--)
        {
            ServiceDescriptor d = services[i];
            if (d.ServiceType == typeof(IConnectionListenerFactory) && !d.IsKeyedService
                && (d.ImplementationType == typeof(SocketTransportFactory) || d.ImplementationType == typeof(NativeSocketTransportFactory)))
                services.RemoveAt(i);
        }
        services.AddSingleton<IConnectionListenerFactory, NativeSocketTransportFactory>();
        return services;
    }
}
