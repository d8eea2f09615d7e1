using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection.Extensions;
using NativeBuffers;
using NativeBuffers.AspNetCore;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers <see cref="NativeMemoryPoolFactory"/> as the host's <see cref="IMemoryPoolFactory{T}"/> of bytes.</summary>
public static class NativeMemoryPoolServiceCollectionExtensions
{
    /// <summary>
    /// Makes the host's memory-pool factory hand out <see cref="NativeMemoryPool.Shared"/>, so Kestrel's sockets
    /// transport (and the other components listed on <see cref="NativeMemoryPoolFactory"/>) keep their buffers in native memory.
    /// </summary>
    /// <remarks>
    /// Replaces every earlier <see cref="IMemoryPoolFactory{T}"/> registration (Kestrel registers its own in
    /// <c>UseKestrel</c>). Call it after Kestrel is added — <c>WebApplication.CreateBuilder(args).Services</c> already has
    /// it — because a registration made later wins. The factory is also registered as itself, for its statistics.
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
    /// <param name="reuseOwners">True for zero-allocation rents; false to make stale use of a buffer always throw
    /// (see <see cref="NativeMemoryPool"/>).</param>
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
        return services;
    }
}
