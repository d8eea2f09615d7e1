using FsCheck;
using FsCheck.Fluent;
using NativeBuffers.Arenas;
using NativeBuffers.Pooling;

namespace NativeBuffers.Tests.Pooling;

public class ThreadCacheTests
{
    private static readonly int[] s_classes = [0, 27, SizeClasses.PageClass, SizeClasses.PageClass + 4, SizeClasses.HugeClass - 1, SizeClasses.HugeClass, ThreadCache.LargestCachedClass];

    /// <summary>
    /// A random walk of returns (true) and rents (false) on one class, checked against a model multiset; every one is
    /// counted, and the counts and their bytes (derived from the class size) add up.
    /// </summary>
    [Fact]
    public void Cache_holds_exactly_its_capacity_and_gives_back_only_what_it_holds()
    {
        using var pool = NativeArrayPool<byte>.Create();
        Arbitrary<(int, bool[])> walks = Gen.Elements(s_classes)
            .SelectMany(sizeClass => Gen.ListOf(Gen.Elements(true, true, false)).Select(ops => (sizeClass, ops.ToArray())))
            .ToArbitrary();
        Prop.ForAll(walks, walk =>
        {
            (int sizeClass, bool[] ops) = walk;
            var cache = NotFinalized(new ThreadCache(pool.Core, trimEpoch: 0, enabled: true));
            var held = new HashSet<Allocation>();
            // Real records of the class from the arena (their state is the arena's to set); those not in the cache
            // wait here for the next push, so a walk takes at most capacity + 1 of them, all freed at its end.
            var loose = new Stack<Allocation>();
            int capacity = ThreadCache.CapacityOf(sizeClass);
            int rents = 0;
            try
            {
                foreach (bool push in ops)
                {
                    if (push)
                    {
                        Allocation allocation = loose.TryPop(out Allocation? spare) ? spare : pool.Core.Arena.Allocate(sizeClass);
                        bool taken = cache.TryReturn(allocation);
                        if (taken != held.Count < capacity)
                            return false;
                        if (taken)
                            held.Add(allocation);
                        else
                            loose.Push(allocation);
                    }
                    else
                    {
                        Allocation? popped = cache.TryRent(sizeClass);
                        if (popped is null ? held.Count != 0 : !held.Remove(popped))
                            return false;
                        if (popped is not null)
                        {
                            loose.Push(popped);
                            rents++;
                        }
                    }
                    if (cache.CachedBytes() != held.Count * SizeClasses.SizeOf(sizeClass))
                        return false;
                }
                var counts = new LeaseCounts();
                cache.AddCountsTo(ref counts);
                int returns = ops.Count(push => push);
                long bytes = SizeClasses.SizeOf(sizeClass);
                return counts.Rents == rents && counts.Returns == returns
                    && counts.RentedBytes == rents * bytes && counts.ReturnedBytes == returns * bytes
                    && counts.InUseBytes == (rents - returns) * bytes;
            }
            finally
            {
                foreach (Allocation allocation in held.Concat(loose))
                    pool.Core.Arena.Free(allocation);
            }
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Disabled_cache_takes_nothing_and_uncached_classes_miss()
    {
        using var pool = NativeArrayPool<byte>.Create();
        var disabled = NotFinalized(new ThreadCache(pool.Core, trimEpoch: 0, enabled: false));
        Allocation small = pool.Core.Arena.Allocate(0);
        Assert.False(disabled.TryReturn(small));
        Assert.Null(disabled.TryRent(0));

        var enabled = NotFinalized(new ThreadCache(pool.Core, trimEpoch: 0, enabled: true));
        Allocation huge = pool.Core.Arena.Allocate(ThreadCache.LargestCachedClass + 1);
        Assert.False(enabled.TryReturn(huge));
        Assert.Null(enabled.TryRent(ThreadCache.LargestCachedClass + 1));
        Assert.Null(enabled.TryRent(-1));

        // What no bin holds is counted with its capacity.
        var counts = new LeaseCounts();
        disabled.AddCountsTo(ref counts);
        enabled.AddCountsTo(ref counts);
        Assert.Equal(2, counts.Returns);
        Assert.Equal(small.Capacity + huge.Capacity, counts.ReturnedBytes);
        pool.Core.Arena.Free(small);
        pool.Core.Arena.Free(huge);
    }

    /// <summary>
    /// Rent never answers null: what the cache does not hold (an empty bin, a disabled cache, a class no cache holds)
    /// comes from the arena, counted once, in the bin for a cached class and with its capacity for the others.
    /// </summary>
    [Theory]
    [InlineData(true, 0)]
    [InlineData(true, SizeClasses.PageClass)]
    [InlineData(true, ThreadCache.LargestCachedClass + 1)]
    [InlineData(false, 0)]
    [InlineData(false, SizeClasses.PageClass)]
    public void Rent_that_the_cache_cannot_serve_comes_from_the_arena_counted_once(bool enabled, int sizeClass)
    {
        using var pool = NativeArrayPool<byte>.Create();
        var cache = NotFinalized(new ThreadCache(pool.Core, trimEpoch: 0, enabled));
        Allocation cached = pool.Core.Arena.Allocate(sizeClass);
        bool kept = cache.TryReturn(cached); // counted as returned either way; one not kept stays out of the arena until the end
        Assert.Equal(enabled && sizeClass <= ThreadCache.LargestCachedClass, kept);

        // The first rent takes what the cache kept, if it kept it; the second finds the bin empty.
        Allocation first = cache.Rent(sizeClass);
        Allocation second = cache.Rent(sizeClass);
        Assert.NotSame(first, second);
        Assert.Equal(kept, ReferenceEquals(first, cached));
        Assert.Equal(sizeClass, second.SizeClass);
        Assert.Equal(SizeClasses.SizeOf(sizeClass), second.Capacity);

        var counts = new LeaseCounts();
        cache.AddCountsTo(ref counts);
        Assert.Equal(2, counts.Rents);
        Assert.Equal(1, counts.Returns);
        Assert.Equal(2 * SizeClasses.SizeOf(sizeClass), counts.RentedBytes);
        pool.Core.Arena.Free(first);
        pool.Core.Arena.Free(second);
        if (!kept)
            pool.Core.Arena.Free(cached);
    }

    [Fact]
    public void Flush_hands_every_cached_buffer_back_to_the_arena()
    {
        using var pool = NativeArrayPool<byte>.Create();
        // More buffers of one class than the cache holds, so both the hot slot and the spill stack are used.
        var buffers = Enumerable.Range(0, 20).Select(_ => pool.Rent(4096)).ToList();
        foreach (NativeBuffer<byte> buffer in buffers)
            pool.Return(buffer);
        long flushed = pool.Core.FlushCaches();
        Assert.Equal(ThreadCache.CapacityOf(SizeClasses.PageClass) * 4096L, flushed);
        Assert.Equal(0, pool.GetStatistics().InUseBytes);
        Assert.Equal(0, pool.Core.FlushCaches()); // nothing left behind
    }

    [Fact]
    public void Return_then_rent_of_the_same_size_reuses_the_cached_buffer()
    {
        foreach (NativeArrayPool<byte> pool in new[] { NativeArrayPool<byte>.Shared, NativeArrayPool<byte>.Create() })
        {
            NativeBuffer<byte> first = pool.Rent(65536);
            nint address = first.Address();
            pool.Return(first);
            NativeBuffer<byte> second = pool.Rent(65536);
            Assert.Equal(address, second.Address());
            Assert.False(first.IsValid);
            Assert.Throws<InvalidOperationException>(() => pool.Return(first)); // the double return is still caught
            pool.Return(second);
            if (pool != NativeArrayPool<byte>.Shared)
                pool.Dispose();
        }
    }

    /// <summary>
    /// A disposed pool's id goes back to the free list and the next pool takes it, so both index the same slot of a
    /// thread's cache array. Rent on the disposed pool (which only throws) must not put a cache of its own there:
    /// that would throw away the live pool's cache on this thread, with the buffers it holds.
    /// </summary>
    [Theory]
    [InlineData(0L)]
    [InlineData(-1L)]
    [InlineData(65536L)]
    public void Rent_on_a_disposed_pool_leaves_the_cache_of_the_pool_that_took_its_id(long length)
    {
        (NativeArrayPool<byte> disposed, NativeArrayPool<byte> live) = PoolsSharingAnId();
        try
        {
            NativeBuffer<byte> first = live.Rent(65536);
            nint address = first.Address();
            live.Return(first); // into this thread's cache of the live pool
            Assert.ThrowsAny<Exception>(() => disposed.Rent(length)); // ObjectDisposed, or ArgumentOutOfRange for -1

            NativeBuffer<byte> second = live.Rent(65536);
            Assert.Equal(address, second.Address()); // still served from the cache
            live.Return(second);
        }
        finally
        {
            live.Dispose();
        }
    }

    /// <summary>
    /// The shared pool skips the disposal checks of its rent and return (it cannot be disposed), chosen by the core's
    /// IsShared while the facade passes this thread's cache of the shared pool to every rent. A created pool used on
    /// a thread that has that cache must still refuse, after its disposal, a rent its hot slot would serve (the check
    /// after publishing the lease is all that stands in the way) and the return of a lease that was out, and count
    /// neither; the shared pool on the same thread goes on as before.
    /// </summary>
    [Fact]
    public void Created_pool_on_a_thread_that_uses_the_shared_pool_refuses_rent_and_return_after_disposal()
    {
        NativeArrayPool<byte> shared = NativeArrayPool<byte>.Shared;
        shared.Return(shared.Rent(4096));
        Assert.NotNull(PoolCore.ThreadSharedCache);
        var pool = NativeArrayPool<byte>.Create();
        var memoryPool = new NativeMemoryPool();
        NativeBuffer<byte> held = pool.Rent(4096);
        pool.Return(pool.Rent(4096)); // this thread's hot slot of the created pool now holds one
        memoryPool.Rent(4096).Dispose(); // and of the memory pool
        NativePoolStatistics before = pool.GetStatistics();
        NativePoolStatistics memoryBefore = memoryPool.GetStatistics();
        pool.Dispose();
        memoryPool.Dispose();

        Assert.Throws<ObjectDisposedException>(() => pool.Rent(4096));
        Assert.Throws<ObjectDisposedException>(() => memoryPool.Rent(4096));
        Assert.Throws<ObjectDisposedException>(() => pool.Return(held));
        NativePoolStatistics after = pool.GetStatistics();
        Assert.Equal((before.Rents, before.Returns), (after.Rents, after.Returns));
        Assert.Equal((memoryBefore.Rents, memoryBefore.Returns), (memoryPool.GetStatistics().Rents, memoryPool.GetStatistics().Returns));

        NativeBuffer<byte> again = shared.Rent(4096);
        Assert.True(again.IsValid);
        shared.Return(again);
    }

    private static (NativeArrayPool<byte> Disposed, NativeArrayPool<byte> Live) PoolsSharingAnId()
    {
        var id = typeof(PoolCore).GetField("_id", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic)!;
        for (int attempt = 0; attempt < 100; attempt++)
        {
            var first = NativeArrayPool<byte>.Create();
            first.Rent(16).Dispose(); // this thread has a cache for it
            first.Dispose();
            var second = NativeArrayPool<byte>.Create(); // pops the id the first one pushed, unless another test took it
            if ((int)id.GetValue(first.Core)! == (int)id.GetValue(second.Core)!)
                return (first, second);
            second.Dispose();
        }
        throw new InvalidOperationException("no pool took a disposed pool's id in 100 attempts");
    }

    [Fact]
    public void Two_threads_renting_and_returning_never_share_a_buffer()
    {
        // Each thread stamps its buffers with its own byte and checks the stamp survives until it returns them:
        // a buffer handed to both threads at once would show the other's stamp. Buffers also cross threads.
        NativeArrayPool<byte> pool = NativeArrayPool<byte>.Shared;
        var handoff = new System.Collections.Concurrent.BlockingCollection<NativeBuffer<byte>>(boundedCapacity: 64);
        int[] sizes = [16, 4096, 65536, 1 << 20];
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        void Work(byte stamp)
        {
            var random = new Random(stamp);
            for (int i = 0; i < 20_000; i++)
            {
                NativeBuffer<byte> buffer = pool.Rent(sizes[random.Next(sizes.Length)]);
                Span<byte> head = buffer.AsSpan(0, 16);
                head.Fill(stamp);
                Thread.SpinWait(random.Next(4));
                if (head.IndexOfAnyExcept(stamp) >= 0)
                    failures.Add($"thread {stamp} saw its buffer change at step {i}");
                // Every 8th buffer goes back from the other thread.
                if (i % 8 == 0 && handoff.TryAdd(buffer))
                    continue;
                pool.Return(buffer);
                while (handoff.TryTake(out NativeBuffer<byte> foreign))
                    pool.Return(foreign);
            }
        }
        var other = new Thread(() => Work(2));
        other.Start();
        Work(1);
        other.Join();
        while (handoff.TryTake(out NativeBuffer<byte> rest))
            pool.Return(rest);
        Assert.Empty(failures);
    }

    // These caches hold fake records that no arena made: a finalizer flushing them into the pool's arena
    // (a cache's finalizer hands a dead thread's memory back) would corrupt it, so they never run one.
    private static ThreadCache NotFinalized(ThreadCache cache)
    {
        GC.SuppressFinalize(cache);
        return cache;
    }
}

internal static class NativeBufferTestExtensions
{
    public static unsafe nint Address(this NativeBuffer<byte> buffer) => (nint)buffer.Pointer;
}
