namespace NativeBuffers.Tests.Pooling;

/// <summary>
/// Leak reporting: with <see cref="NativePoolOptions.TrackLeases"/> the pool lists the leases that are out with
/// their sizes and rent stacks, reports the ones still out at Dispose, and counts them; owners can report a leak
/// from a finalizer through the core's hook.
/// </summary>
public class LeaseTrackerTests
{
    private static NativeArrayPool<byte> CreatePool(bool stacks = false, Action<NativeLeaseInfo>? onLeak = null, bool guarded = false) =>
        NativeArrayPool<byte>.Create(new NativePoolOptions
        {
            TrackLeases = !guarded,
            Guarded = guarded,
            CaptureRentStackTraces = stacks,
            LeakReported = onLeak,
            IdleTrimDelay = Timeout.InfiniteTimeSpan,
            TrimOnMemoryPressure = false,
        });

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Live_leases_are_listed_with_their_sizes(bool guarded)
    {
        using NativeArrayPool<byte> pool = CreatePool(guarded: guarded);
        NativeBuffer<byte> a = pool.Rent(100);
        NativeBuffer<byte> b = pool.Rent(10_000);
        NativeBuffer<byte> c = pool.Rent(1 << 20);
        pool.Return(b);

        IReadOnlyList<NativeLeaseInfo> live = pool.GetLiveLeases();

        Assert.Equal(new[] { a.Length, c.Length }.Order(), live.Select(l => l.Bytes).Order());
        Assert.All(live, l => Assert.Null(l.RentStackTrace));
        Assert.Equal(2, pool.GetStatistics().TrackedLeases);
        pool.Return(a);
        pool.Return(c);
        Assert.Empty(pool.GetLiveLeases());
    }

    [Fact]
    public void Rent_stacks_point_at_the_renting_code()
    {
        using NativeArrayPool<byte> pool = CreatePool(stacks: true);
        NativeBuffer<byte> buffer = RentForALeak(pool);

        NativeLeaseInfo leak = Assert.Single(pool.GetLiveLeases());

        Assert.Contains(nameof(RentForALeak), leak.RentStackTrace);
        Assert.DoesNotContain("PoolCore", leak.RentStackTrace); // the pool's own frames are skipped
        Assert.Contains(nameof(RentForALeak), leak.ToString());
        pool.Return(buffer);
    }

    [Fact]
    public void Resize_moves_the_entry_to_the_new_lease()
    {
        using NativeArrayPool<byte> pool = CreatePool();
        NativeBuffer<byte> buffer = pool.Rent(1000);

        pool.Resize(ref buffer, 100_000);

        NativeLeaseInfo only = Assert.Single(pool.GetLiveLeases());
        Assert.Equal(buffer.Length, only.Bytes);
        pool.Resize(ref buffer, 0);
        Assert.Empty(pool.GetLiveLeases());
    }

    [Fact]
    public void Leases_still_out_at_Dispose_are_reported_and_counted()
    {
        var reported = new List<NativeLeaseInfo>();
        var pool = CreatePool(stacks: true, onLeak: reported.Add);
        NativeBuffer<byte> leaked1 = RentForALeak(pool);
#pragma warning disable NAP001 // leaked on purpose: the pool must report it at Dispose
        NativeBuffer<byte> leaked2 = pool.Rent(70_000);
#pragma warning restore NAP001
        pool.Return(pool.Rent(5));

        pool.Dispose();

        Assert.Equal(2, reported.Count);
        Assert.Equal(new[] { leaked1.Length, leaked2.Length }.Order(), reported.Select(r => r.Bytes).Order());
        Assert.Contains(reported, r => r.RentStackTrace!.Contains(nameof(RentForALeak)));
        NativePoolStatistics stats = pool.GetStatistics();
        Assert.Equal(2, stats.LeaksReported);
        Assert.Equal(leaked1.Length + leaked2.Length, stats.LeakedBytes);
        Assert.False(leaked1.IsValid);
    }

    [Fact]
    public void A_double_return_says_where_the_first_return_happened()
    {
        using NativeArrayPool<byte> pool = CreatePool(stacks: true);
        NativeBuffer<byte> buffer = pool.Rent(4096);
        ReturnForTheFirstTime(pool, buffer);

        var e = Assert.Throws<InvalidOperationException>(() => pool.Return(buffer));

        Assert.Contains("already returned", e.Message);
        Assert.Contains("returned at:", e.Message);
        Assert.Contains(nameof(ReturnForTheFirstTime), e.Message);
    }

    [Fact]
    public void Returning_a_resized_lease_says_where_the_resize_happened()
    {
        using NativeArrayPool<byte> pool = CreatePool(stacks: true);
        NativeBuffer<byte> buffer = pool.Rent(4096);
        NativeBuffer<byte> old = buffer;
        pool.Resize(ref buffer, 100_000);

        var e = Assert.Throws<InvalidOperationException>(() => pool.Return(old));

        Assert.Contains("replaced by Resize at:", e.Message);
        Assert.Contains(nameof(Returning_a_resized_lease_says_where_the_resize_happened), e.Message);
        pool.Return(buffer);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void ReturnForTheFirstTime(NativeArrayPool<byte> pool, NativeBuffer<byte> buffer) => pool.Return(buffer);

    [Fact]
    public void A_pool_without_tracking_says_so()
    {
        using var pool = NativeArrayPool<byte>.Create();

        var e = Assert.Throws<InvalidOperationException>(() => pool.GetLiveLeases());

        Assert.Contains("TrackLeases", e.Message);
        Assert.Equal(0, pool.GetStatistics().TrackedLeases);
    }

    [Fact]
    public void Stack_traces_without_tracking_are_refused_at_creation()
    {
        var e = Assert.Throws<ArgumentException>(() => NativeArrayPool<byte>.Create(new NativePoolOptions { CaptureRentStackTraces = true }));

        Assert.Contains("TrackLeases", e.Message);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static NativeBuffer<byte> RentForALeak(NativeArrayPool<byte> pool) => pool.Rent(2048);
}
