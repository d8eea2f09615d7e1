using System.Runtime.CompilerServices;
using NativeBuffers.Diagnostics;

namespace NativeBuffers.Tests.Pooling;

public class ThreadCacheStatisticsTests
{
    [Fact]
    public void Counters_of_threads_that_ended_are_kept_exactly_once()
    {
        using var pool = NativeArrayPool<byte>.Create();
        var held = new List<NativeBuffer<byte>>();
        for (int t = 0; t < 8; t++)
        {
            var thread = new Thread(() =>
            {
                for (int i = 0; i < 100; i++)
                    pool.Return(pool.Rent(1000 + i));
                lock (held)
                    held.Add(pool.Rent(5000)); // still rented when the thread ends
            });
            thread.Start();
            thread.Join();
        }
        Check(pool, expectedRents: 808, expectedReturns: 800);
        // After one collection the dead threads' caches are finalized (counters folded into the pool's totals)
        // but still reachable through the long weak references: the moment a double count would show.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Check(pool, expectedRents: 808, expectedReturns: 800);
        CollectDeadThreads();
        Check(pool, expectedRents: 808, expectedReturns: 800);

        foreach (NativeBuffer<byte> buffer in held)
            pool.Return(buffer);
        NativePoolStatistics stats = pool.GetStatistics();
        Assert.Equal(stats.Rents, stats.Returns);
        Assert.Equal(0, stats.InUseBytes);
    }

    /// <summary>
    /// A rent that finds the pool disposed is not counted, whichever path served it before the check: the cache's hot
    /// slot, its spill stack (both counted there first, then taken back), or the arena (refused before counting);
    /// with the cache and without, for a cached class and for one no cache holds.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Rents_refused_by_disposal_are_not_counted_whichever_path_served_them(bool threadCaches)
    {
        var pool = NativeArrayPool<byte>.Create(new NativePoolOptions { ThreadCaches = threadCaches });
        long[] sizes = [100, 4096, 32L << 20];
        foreach (long size in sizes)
        {
            // More than a class's cache holds, so the cache's hot slot and spill stack are full and the arena has the rest.
            var buffers = Enumerable.Range(0, 20).Select(_ => pool.Rent(size)).ToList();
            foreach (NativeBuffer<byte> buffer in buffers)
                pool.Return(buffer);
        }
        NativeBuffer<byte> held = pool.Rent(4096);
        NativePoolStatistics before = pool.GetStatistics();
        pool.Dispose();

        foreach (long size in sizes)
        {
            for (int i = 0; i < 20; i++)
                Assert.Throws<ObjectDisposedException>(() => pool.Rent(size));
        }
        NativePoolStatistics after = pool.GetStatistics();
        Assert.Equal(before.Rents, after.Rents);
        Assert.Equal(before.BytesRented, after.BytesRented);
        Assert.Equal(before.Returns, after.Returns);
        Assert.Equal(4096, after.InUseBytes);
        Assert.Throws<ObjectDisposedException>(() => pool.Return(held)); // the lease out at disposal ends here
    }

    /// <summary>
    /// The rents and rented bytes the metrics report are observable counters: they never go back between two
    /// collections, even while the owner thread rents and returns through its hot slot, whose rents the cache derives
    /// from counters that such a pair moves in turn (a snapshot can catch a return half done, one rent ahead). A
    /// bounded number of reads, none timed; before the measurement held its high-water mark, a few dozen to a few
    /// thousand of a million reads here went back by one.
    /// </summary>
    [Fact]
    public void Measured_rents_never_go_back_while_the_owner_rents_and_returns()
    {
        using var pool = NativeArrayPool<byte>.Create();
        IObservedPool observed = pool.Core;
        using var done = new ManualResetEventSlim();
        var owner = new Thread(() =>
        {
            NativeBuffer<byte> held = pool.Rent(4096); // one out, so the pairs below fill and empty the hot slot
            while (!done.IsSet)
            {
                for (int i = 0; i < 1000; i++)
                    pool.Return(pool.Rent(4096));
                NativeBuffer<byte> second = pool.Rent(4096); // and one through the spill stack now and then
                pool.Return(second);
                pool.Return(held);
                held = pool.Rent(4096);
            }
            pool.Return(held);
        });
        owner.Start();
        long wentBack = 0, last = 0, lastBytes = 0;
        try
        {
            for (int read = 0; read < 1_000_000; read++)
            {
                Assert.True(observed.TryMeasure(out PoolMeasurements now));
                if (now.Rents < last || now.BytesRented < lastBytes)
                    wentBack++;
                last = now.Rents;
                lastBytes = now.BytesRented;
            }
        }
        finally
        {
            done.Set();
            owner.Join();
        }
        Assert.Equal(0, wentBack);
    }

    private static void Check(NativeArrayPool<byte> pool, long expectedRents, long expectedReturns)
    {
        NativePoolStatistics stats = pool.GetStatistics();
        Assert.Equal(expectedRents, stats.Rents);
        Assert.Equal(expectedReturns, stats.Returns);
        Assert.Equal(8 * 8192, stats.InUseBytes);
        long perThread = Enumerable.Range(1000, 100).Sum(n => Capacity(n)) + Capacity(5000);
        Assert.Equal(8 * perThread, stats.BytesRented);
    }

    private static long Capacity(long bytes) => NativeBuffers.Arenas.SizeClasses.SizeOf(NativeBuffers.Arenas.SizeClasses.ClassOf(bytes));

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void CollectDeadThreads()
    {
        for (int i = 0; i < 3; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
    }
}
