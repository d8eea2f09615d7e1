using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;

namespace NativeBuffers.AspNetCore.Tests;

public class NativeMemoryPoolFactoryTests
{
    [Fact]
    public void Default_factory_hands_out_the_shared_pool_which_survives_disposal()
    {
        var factory = new NativeMemoryPoolFactory();
        Assert.True(factory.UsesSharedPool);
        var pool = factory.Create(new MemoryPoolOptions { Owner = "test" });
        Assert.Same(NativeMemoryPool.SharedReusingOwners, pool); // Kestrel disposes each owner once: reuse is safe there
        Assert.True(((NativeMemoryPool)pool).ReusesOwners);
        pool.Dispose();
        factory.Dispose();
        using var owner = NativeMemoryPool.Shared.Rent(10);
        Assert.Equal(1, factory.PoolsCreated);
    }

    [Fact]
    public void Factory_pools_reuse_owners_unless_asked_not_to()
    {
        using var reusing = new NativeMemoryPoolFactory(new NativePoolOptions());
        Assert.True(((NativeMemoryPool)reusing.Create()).ReusesOwners);
        using var perLease = new NativeMemoryPoolFactory(new NativePoolOptions(), reuseOwners: false);
        Assert.False(((NativeMemoryPool)perLease.Create()).ReusesOwners);
    }

    [Fact]
    public void Factory_with_options_makes_a_pool_per_create_and_disposes_what_is_left()
    {
        var factory = new NativeMemoryPoolFactory(new NativePoolOptions { ReservationsPerSize = 2 });
        var first = (NativeMemoryPool)factory.Create();
        var second = (NativeMemoryPool)factory.Create();
        Assert.NotSame(first, second);
        first.Rent(100).Dispose();
        second.Rent(100).Dispose();
        Assert.Equal(2, factory.GetStatistics().Rents);
        factory.Dispose();
        Assert.Throws<ObjectDisposedException>(() => first.Rent(1));
        Assert.Throws<ObjectDisposedException>(() => factory.Create());
    }

    [Fact]
    public void Factory_statistics_are_the_sum_of_every_counter_of_its_pools()
    {
        using var factory = new NativeMemoryPoolFactory(new NativePoolOptions { Guarded = true, IdleTrimDelay = Timeout.InfiniteTimeSpan, TrimOnMemoryPressure = false });
        var pools = new[] { (NativeMemoryPool)factory.Create(), (NativeMemoryPool)factory.Create() };
        foreach (NativeMemoryPool pool in pools)
        {
            System.Buffers.IMemoryOwner<byte> kept = pool.Rent(100_000);
            pool.Rent(200_000).Dispose();   // quarantined (guarded mode)
            pool.Trim();                    // a trim, and the quarantine back in the arena
            pool.Rent(300).Dispose();
            GC.KeepAlive(kept);             // a tracked lease still out
        }

        NativePoolStatistics sum = factory.GetStatistics();
        NativePoolStatistics[] parts = pools.Select(p => p.GetStatistics()).ToArray();
        foreach (var property in typeof(NativePoolStatistics).GetProperties().Where(p => p.PropertyType == typeof(long) || p.PropertyType == typeof(int)))
        {
            // The reserve is what the process keeps for itself, the same for every pool: the largest, not a sum.
            long expected = property.Name == nameof(NativePoolStatistics.MappingReserve)
                ? parts.Max(part => Convert.ToInt64(property.GetValue(part)))
                : parts.Sum(part => Convert.ToInt64(property.GetValue(part)));
            Assert.True(expected == Convert.ToInt64(property.GetValue(sum)), $"{property.Name}: factory says {property.GetValue(sum)}, its pools {expected}");
        }
        Assert.Equal(2, sum.Trims);
        Assert.Equal(2, sum.TrackedLeases);
        Assert.Equal(2, sum.QuarantinedBuffers);
    }

    [Fact]
    public void Bad_options_fail_when_the_factory_is_made()
    {
        Assert.Throws<ArgumentException>(() => new NativeMemoryPoolFactory(new NativePoolOptions { ReservationsPerSize = 0 }));
    }

    [Fact]
    public void AddNativeMemoryPool_replaces_an_earlier_factory_and_the_last_call_wins()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IMemoryPoolFactory<byte>>(new NativeMemoryPoolFactory());
        services.AddNativeMemoryPool(o => o.ThreadCaches = false);
        services.AddNativeMemoryPool();
        using ServiceProvider provider = services.BuildServiceProvider();
        var factory = Assert.IsType<NativeMemoryPoolFactory>(provider.GetRequiredService<IMemoryPoolFactory<byte>>());
        Assert.True(factory.UsesSharedPool);
        Assert.Single(services, d => d.ServiceType == typeof(IMemoryPoolFactory<byte>));
        Assert.Single(services, d => d.ServiceType == typeof(IConnectionListenerFactory));
    }
}
