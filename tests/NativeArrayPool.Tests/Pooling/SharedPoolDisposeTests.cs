using System.Buffers;
using NativeBuffers.Tests.Support;

namespace NativeBuffers.Tests.Pooling;

/// <summary>
/// The shared pools end a lease disposed through <see cref="NativeBuffer{T}.Dispose"/> or a reused
/// <see cref="IMemoryOwner{T}"/> on a path of their own (they cannot be disposed, so there is no disposal to catch).
/// A second Dispose of the same lease, or a Dispose after its Return, must do nothing: if it took the memory back
/// again, the thread's cache would hold it twice and the next two rents would share one buffer.
/// </summary>
public class SharedPoolDisposeTests
{
    // A size no other test rents from the shared pools, so this thread's cache of its class holds only what these
    // tests put there (the cache is per thread; other tests on other threads cannot reach it).
    private const int Size = 3 * 1024 + 17;

    [Fact]
    public void A_lease_disposed_twice_is_taken_back_once()
    {
        NativeArrayPool<byte> pool = NativeArrayPool<byte>.Shared;
        long redundantBefore = pool.GetStatistics().RedundantDisposes;
        NativeBuffer<byte> lease = pool.Rent(Size);
        NativeBuffer<byte> copy = lease;
        lease.Dispose();
        copy.Dispose();
        Assert.True(pool.GetStatistics().RedundantDisposes > redundantBefore);
        AssertNextTwoRentsAreDistinct(pool);
    }

    [Fact]
    public void A_dispose_after_return_does_nothing()
    {
        NativeArrayPool<byte> pool = NativeArrayPool<byte>.Shared;
        NativeBuffer<byte> lease = pool.Rent(Size);
        NativeBuffer<byte> copy = lease;
        pool.Return(lease);
        copy.Dispose();
        AssertNextTwoRentsAreDistinct(pool);
    }

    [Fact]
    public void A_reused_owner_disposed_twice_is_taken_back_once()
    {
        NativeMemoryPool pool = NativeMemoryPool.SharedReusingOwners;
        IMemoryOwner<byte> owner = pool.Rent(Size);
        owner.Dispose();
        owner.Dispose();
        using IMemoryOwner<byte> first = pool.Rent(Size);
        using IMemoryOwner<byte> second = pool.Rent(Size);
        using MemoryHandle a = first.Memory.Pin();
        using MemoryHandle b = second.Memory.Pin();
        unsafe
        {
            Assert.NotEqual((nint)a.Pointer, (nint)b.Pointer);
        }
    }

    [Fact]
    public void A_dispose_of_a_lease_resized_since_leaves_the_new_lease_alone()
    {
        NativeArrayPool<byte> pool = NativeArrayPool<byte>.Shared;
        long redundantBefore = pool.GetStatistics().RedundantDisposes;
        NativeBuffer<byte> lease = pool.Rent(Size);
        NativeBuffer<byte> stale = lease;
        pool.Resize(ref lease, 2 * Size);
        try
        {
            stale.Dispose();
            Assert.True(lease.IsValid);
            Assert.True(pool.GetStatistics().RedundantDisposes > redundantBefore);
            AssertNextTwoRentsAreDistinct(pool);
        }
        finally
        {
            pool.Return(lease);
        }
    }

    /// <summary>
    /// <c>NATIVEARRAYPOOL_ZEROONRENT=1</c> set for a new process takes the shared pool out of its default mode, so a
    /// Dispose there must zero what it ends, as Return does (the shared pool of this process is in the default mode).
    /// </summary>
    [Fact]
    public void A_dispose_zeroes_on_the_shared_pool_of_a_process_with_the_zero_on_rent_variable()
    {
        (int exitCode, string output) = StressHostProcess.Run("shareddispose", new Dictionary<string, string>
        {
            ["NATIVEARRAYPOOL_ZEROONRENT"] = "1",
        }, TimeSpan.FromMinutes(1));
        Assert.True(exitCode == 0, $"the child exited with {exitCode}:\n{output}");
        Assert.Contains("zero on rent", output);
        Assert.Contains("PASS", output);
    }

    private static void AssertNextTwoRentsAreDistinct(NativeArrayPool<byte> pool)
    {
        NativeBuffer<byte> first = pool.Rent(Size);
        NativeBuffer<byte> second = pool.Rent(Size);
        try
        {
            unsafe
            {
                Assert.NotEqual((nint)first.Pointer, (nint)second.Pointer);
            }
        }
        finally
        {
            pool.Return(first);
            pool.Return(second);
        }
    }
}
